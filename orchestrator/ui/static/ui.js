// Refreshes a campaign's summary and figures every 5 s (the page works without it), and the approvals badge.
(function () {
  const live = document.getElementById("live");
  if (live) {
    setInterval(async () => {
      try {
        const response = await fetch(live.dataset.live, { credentials: "same-origin" });
        if (response.ok && !response.redirected && response.headers.get("content-type").startsWith("text/html")) live.innerHTML = await response.text();
      } catch (e) { /* the server is restarting: try again next time */ }
    }, 5000);
  }
})();
