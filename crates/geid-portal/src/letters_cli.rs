//! Command-line parts of the letters service: `geid-portal org …`, `geid-portal staff add`,
//! and the serve flags for document signatures and notifications.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use crate::db::Db;
use crate::notify::{FileSms, HttpSmsGateway, NotifyConfig, SmsSender, SmtpConfig};
use crate::organisations;

/// `geid-portal org …`
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// List the organisations.
    List,
    /// Add an organisation.
    Add {
        /// Short id, e.g. `batumi` (`[a-z0-9-]`, 2–32 characters).
        #[arg(long)]
        id: String,
        /// Name in Georgian.
        #[arg(long)]
        name_ka: String,
        /// Name in English.
        #[arg(long)]
        name_en: String,
    },
    /// Rename an organisation.
    Rename {
        /// The id.
        #[arg(long)]
        id: String,
        /// New Georgian name.
        #[arg(long)]
        name_ka: Option<String>,
        /// New English name.
        #[arg(long)]
        name_en: Option<String>,
    },
    /// Deliver the organisation's letters to its own system by signed webhook (or stop).
    Webhook {
        /// The id.
        #[arg(long)]
        id: String,
        /// The receiving URL; omit with --clear.
        #[arg(long)]
        url: Option<String>,
        /// File holding the shared HMAC secret (at least 32 characters).
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
        /// Remove the webhook.
        #[arg(long)]
        clear: bool,
    },
}

/// `geid-portal staff …`
#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Create a staff account of an organisation.
    Add {
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// Login name.
        #[arg(long)]
        username: String,
        /// Name shown on answers (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// File whose first line is the password (at least 10 characters).
        #[arg(long, value_name = "FILE")]
        password_file: PathBuf,
    },
}

/// Runs an `org` command.
pub async fn run_org(db: &Db, c: OrgCommand) -> anyhow::Result<()> {
    match c {
        OrgCommand::List => {
            for o in organisations::list(db).await? {
                let hook = o.webhook_url.as_deref().unwrap_or("-");
                println!("{}\t{}\t{}\t{hook}", o.id, o.name_ka, o.name_en);
            }
        }
        OrgCommand::Add {
            id,
            name_ka,
            name_en,
        } => {
            if !organisations::valid_id(&id) {
                bail!("an organisation id has 2–32 characters a-z, 0-9 and -");
            }
            if name_ka.trim().is_empty() || name_en.trim().is_empty() {
                bail!("both names are required");
            }
            if !organisations::add(db, &id, name_ka.trim(), name_en.trim()).await? {
                bail!("organisation {id} exists");
            }
            println!("added {id}");
        }
        OrgCommand::Rename {
            id,
            name_ka,
            name_en,
        } => {
            if !organisations::rename(db, &id, name_ka.as_deref(), name_en.as_deref()).await? {
                bail!("no organisation {id}");
            }
            println!("renamed {id}");
        }
        OrgCommand::Webhook {
            id,
            url,
            secret_file,
            clear,
        } => {
            let hook = if clear {
                None
            } else {
                let (Some(url), Some(f)) = (url, secret_file) else {
                    bail!("give --url and --secret-file, or --clear");
                };
                let secret = std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?
                    .trim()
                    .to_owned();
                if secret.len() < 32 {
                    bail!("the webhook secret needs at least 32 characters");
                }
                Some((url, secret))
            };
            let set = organisations::set_webhook(
                db,
                &id,
                hook.as_ref().map(|(u, s)| (u.as_str(), s.as_str())),
            )
            .await?;
            if !set {
                bail!("no organisation {id}");
            }
            println!("webhook of {id} {}", if clear { "removed" } else { "set" });
        }
    }
    Ok(())
}

/// Runs a `staff` command.
pub async fn run_staff(db: &Db, c: StaffCommand) -> anyhow::Result<()> {
    match c {
        StaffCommand::Add {
            org,
            username,
            display_name,
            password_file,
        } => {
            let pw = std::fs::read_to_string(&password_file)
                .with_context(|| format!("reading {}", password_file.display()))?;
            let pw = pw.lines().next().unwrap_or("").to_owned();
            if !crate::validate::new_password(&pw) {
                bail!("the password must have 10 to 128 characters");
            }
            let phc = tokio::task::spawn_blocking(move || crate::password::hash(&pw))
                .await?
                .map_err(anyhow::Error::msg)?;
            let name = display_name.unwrap_or_else(|| username.clone());
            let s = organisations::add_staff(db, &org, username.trim(), &name, &phc).await?;
            println!("staff {} of {}", s.username, s.org_id);
        }
    }
    Ok(())
}

/// Serve flags for notifications.
#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// SMTP server for answer notifications, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub smtp: Option<String>,
    /// SMTP TLS: none (loopback only), starttls, tls.
    #[arg(long, default_value = "starttls")]
    pub smtp_tls: String,
    /// SMTP username (the password from GEID_SMTP_PASSWORD).
    #[arg(long)]
    pub smtp_user: Option<String>,
    /// The From address of notifications.
    #[arg(long, default_value = "geid portal <no-reply@localhost>")]
    pub mail_from: String,
    /// HTTP SMS gateway URL (token from GEID_SMS_TOKEN); default: log messages.
    #[arg(long, value_name = "URL")]
    pub sms_gateway: Option<String>,
    /// Append SMS messages to this file instead (demo).
    #[arg(long, value_name = "FILE")]
    pub sms_file: Option<PathBuf>,
}

impl NotifyArgs {
    /// The notification settings; `public_url` is the portal's origin.
    pub fn config(&self, public_url: &str) -> anyhow::Result<NotifyConfig> {
        let smtp = match &self.smtp {
            None => None,
            Some(hp) => {
                let (host, port) = hp.rsplit_once(':').context("--smtp wants HOST:PORT")?;
                Some(SmtpConfig {
                    host: host.to_owned(),
                    port: port.parse().context("--smtp port")?,
                    tls: self.smtp_tls.clone(),
                    credentials: self
                        .smtp_user
                        .clone()
                        .map(|u| (u, std::env::var("GEID_SMTP_PASSWORD").unwrap_or_default())),
                    from: self.mail_from.clone(),
                    timeout: Duration::from_secs(20),
                })
            }
        };
        let sms: Arc<dyn SmsSender> = match &self.sms_gateway {
            Some(url) => Arc::new(HttpSmsGateway {
                url: url.clone(),
                token: std::env::var("GEID_SMS_TOKEN").ok(),
            }),
            None => Arc::new(FileSms {
                path: self.sms_file.clone(),
            }),
        };
        Ok(NotifyConfig {
            smtp,
            sms,
            public_url: public_url.to_owned(),
            ..NotifyConfig::default()
        })
    }
}
