// The kiosk screen: follows the kiosk's state by long-polling /api/state (the server answers
// when the screen changes; card events reach it from pcscd, nothing here polls the card) and
// sends the citizen's touches. The PIN lives only in `digits` until it is sent.
const $ = (id) => document.getElementById(id);
let version = 0;
let digits = [];
let pinMax = 4;
let pinMin = 4;

async function post(path, body) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  return r.ok ? r.json().catch(() => null) : null;
}

function setNotice(el, notice) {
  el.hidden = !notice;
  if (notice) {
    el.querySelector(".ka").textContent = notice.ka;
    el.querySelector(".en").textContent = notice.en;
    el.dataset.code = notice.code;
  } else {
    delete el.dataset.code;
  }
}

function drawDots() {
  $("pin-dots").textContent = "●".repeat(digits.length) + "○".repeat(Math.max(0, pinMax - digits.length));
  $("pin-ok").disabled = digits.length < pinMin;
}

function clearPin() {
  digits.fill("0");
  digits = [];
  drawDots();
}

function render(view) {
  const screen = view.screen;
  if ($("app").dataset.screen !== screen) clearPin();
  $("app").dataset.screen = screen;
  for (const s of document.querySelectorAll(".screen")) s.hidden = s.id !== `screen-${screen}`;
  if (screen === "insert") {
    setNotice($("insert-notice"), view.notice);
  } else if (screen === "pin") {
    $("holder").textContent = view.holder;
    pinMin = view.min_length;
    pinMax = view.max_length;
    setNotice($("pin-notice"), view.notice);
    $("retries").textContent = view.retries_left == null ? "" :
      `დარჩენილი მცდელობა: ${view.retries_left} / Tries left: ${view.retries_left}`;
    $("retries").dataset.retriesLeft = view.retries_left ?? "";
    $("use-pinpad").hidden = !view.pin_pad;
    drawDots();
  } else if (screen === "working") {
    $("working-step").textContent = view.step === "card"
      ? "ბარათი ხელს აწერს… / The card is signing…"
      : "პორტალთან დაკავშირება… / Contacting the portal…";
  } else if (screen === "issued") {
    $("issued-holder").textContent = view.holder;
    $("username").textContent = view.username;
    $("password").textContent = view.password;
    $("portal").textContent = view.portal;
  } else if (screen === "failed") {
    $("failed-ka").textContent = view.notice.ka;
    $("failed-en").textContent = view.notice.en;
    $("screen-failed").dataset.code = view.notice.code;
    $("retry").hidden = !view.retry;
  }
  if (screen !== "issued") {
    $("username").textContent = "";
    $("password").textContent = "";
  }
}

function apply(view) {
  if (view && view.version > version) {
    version = view.version;
    render(view);
  }
}

async function follow() {
  for (;;) {
    try {
      const r = await fetch(`/api/state?after=${version}`);
      if (r.ok) apply(await r.json());
      else await new Promise((res) => setTimeout(res, 1000));
    } catch {
      await new Promise((res) => setTimeout(res, 1000));
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("[data-digit]")) {
    b.addEventListener("click", () => {
      if (digits.length < pinMax) digits.push(b.dataset.digit);
      drawDots();
      post("/api/touch");
    });
  }
  $("pin-clear").addEventListener("click", () => { digits.pop(); drawDots(); });
  $("pin-ok").addEventListener("click", async () => {
    const pin = digits.join("");
    clearPin();
    apply(await post("/api/pin", { pin }));
  });
  $("use-pinpad").addEventListener("click", async () => apply(await post("/api/pinpad")));
  $("retry").addEventListener("click", async () => apply(await post("/api/retry")));
  $("finish").addEventListener("click", async () => apply(await post("/api/finish")));
  $("failed-finish").addEventListener("click", async () => apply(await post("/api/finish")));
  document.addEventListener("pointerdown", () => post("/api/touch"));
  follow();
});
