// Warns five minutes before the session ends (a decision posted after it ends is kept and shown again after sign-in).
(function () {
  const ends = Number(document.body.dataset.sessionEnds || 0) * 1000;
  if (!ends) return;
  const warn = () => {
    if (document.getElementById("session-warning")) return;
    const at = new Date(ends).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    document.querySelector("main").insertAdjacentHTML("afterbegin",
      '<p class="error" id="session-warning" role="alert">Your session ends at ' + at + ': finish what you are doing, then sign in again. ' +
      'A decision sent after it ends is not taken, but it is shown again as you typed it once you sign in.</p>');
  };
  const wait = ends - 5 * 60 * 1000 - Date.now();
  if (wait <= 0) warn(); else setTimeout(warn, Math.min(wait, 2 ** 31 - 1));
})();

// Refreshes everything a campaign page shows from the store (summary, figures, decks, model versions, the experiments
// table with its filter, sort and page) every 5 s: each part of the answer replaces the element of the same id. The
// page works without it; it stops when the session ends.
(function () {
  const live = document.querySelector("[data-live]");
  if (!live) return;
  const timer = setInterval(async () => {
    try {
      const response = await fetch(live.dataset.live, { credentials: "same-origin", redirect: "manual" });
      if (response.status === 401) {
        clearInterval(timer);
        live.insertAdjacentHTML("afterbegin", '<p class="error" role="alert">Your session has ended: reload the page to sign in again.</p>');
      } else if (response.ok && response.headers.get("content-type").startsWith("text/html")) {
        const answer = document.createElement("div");
        answer.innerHTML = await response.text();
        for (const part of answer.querySelectorAll("[data-part]")) {
          const here = document.getElementById(part.id);
          if (here) here.innerHTML = part.innerHTML;
        }
      }
    } catch (e) { /* the server is restarting: try again next time */ }
  }, 5000);
})();
