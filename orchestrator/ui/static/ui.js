// Refreshes a campaign's summary and figures every 5 s (the page works without it); stops when the session ends.
(function () {
  const live = document.getElementById("live");
  if (!live) return;
  const timer = setInterval(async () => {
    try {
      const response = await fetch(live.dataset.live, { credentials: "same-origin", redirect: "manual" });
      if (response.status === 401) {
        clearInterval(timer);
        live.insertAdjacentHTML("afterbegin", '<p class="error" role="alert">Your session has ended: reload the page to sign in again.</p>');
      } else if (response.ok && response.headers.get("content-type").startsWith("text/html")) {
        live.innerHTML = await response.text();
      }
    } catch (e) { /* the server is restarting: try again next time */ }
  }, 5000);
})();
