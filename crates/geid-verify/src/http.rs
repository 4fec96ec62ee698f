//! Plain-HTTP fetches for OCSP and CRLs, with a whole-request timeout and a size cap.
//!
//! `ureq` (blocking, no TLS compiled in: OCSP and CRL URLs are `http://` by convention, the
//! responses being signed) runs on tokio's blocking pool; a tokio timer backs the ureq timeout
//! so a stuck call can never hold a login longer than the configured time.

use std::io::Read;
use std::time::Duration;

/// A bounded HTTP client.
#[derive(Clone)]
pub(crate) struct Http {
    agent: ureq::Agent,
    timeout: Duration,
    max_bytes: usize,
}

impl Http {
    pub(crate) fn new(timeout: Duration, max_bytes: usize) -> Http {
        let agent = ureq::AgentBuilder::new()
            .timeout(timeout)
            .redirects(0)
            .user_agent(concat!("geid-verify/", env!("CARGO_PKG_VERSION")))
            .build();
        Http {
            agent,
            timeout,
            max_bytes,
        }
    }

    /// POSTs `body` and returns the response body of a 200 answer.
    pub(crate) async fn post(
        &self,
        url: &str,
        content_type: &'static str,
        accept: &'static str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        let this = self.clone();
        let url = url.to_owned();
        self.run(move || {
            let response = this
                .agent
                .post(&url)
                .set("Content-Type", content_type)
                .set("Accept", accept)
                .send_bytes(&body);
            this.read(response)
        })
        .await
    }

    /// GETs `url` and returns the body of a 200 answer.
    pub(crate) async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let this = self.clone();
        let url = url.to_owned();
        self.run(move || {
            let response = this.agent.get(&url).call();
            this.read(response)
        })
        .await
    }

    async fn run(
        &self,
        f: impl FnOnce() -> Result<Vec<u8>, String> + Send + 'static,
    ) -> Result<Vec<u8>, String> {
        let task = tokio::task::spawn_blocking(f);
        match tokio::time::timeout(self.timeout + Duration::from_millis(250), task).await {
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
            Ok(Err(e)) => Err(format!("HTTP task failed: {e}")),
            Ok(Ok(result)) => result,
        }
    }

    fn read(&self, response: Result<ureq::Response, ureq::Error>) -> Result<Vec<u8>, String> {
        let response = match response {
            Ok(r) => r,
            Err(ureq::Error::Status(code, _)) => return Err(format!("HTTP status {code}")),
            Err(e) => return Err(e.to_string()),
        };
        if response.status() != 200 {
            return Err(format!("HTTP status {}", response.status()));
        }
        let mut body = Vec::new();
        response
            .into_reader()
            .take(self.max_bytes as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("reading the response: {e}"))?;
        if body.len() > self.max_bytes {
            return Err(format!(
                "response larger than the {} bytes allowed",
                self.max_bytes
            ));
        }
        Ok(body)
    }
}
