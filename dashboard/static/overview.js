// The overview's live refresh: every few seconds (#live's data-seconds) the page fetches its
// numbers again, rendered by the server (#live's data-url), and puts them in place of #numbers.
// Nothing else: no library, no inline script (the page's CSP: script-src 'self'). A tab in the
// background does not poll; a session that ended (the answer has no #numbers) stops it.
(() => {
  const live = document.getElementById("live");
  if (!live) return;
  const url = live.dataset.url;
  const every = Math.max(1, Number(live.dataset.seconds) || 10) * 1000;
  let timer = null;

  async function refresh() {
    timer = null;
    try {
      const answer = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      const page = new DOMParser().parseFromString(await answer.text(), "text/html");
      const fresh = page.getElementById("numbers");
      if (!answer.ok || !fresh) return; // signed out or refused: stop
      const shown = document.getElementById("numbers");
      if (shown) shown.replaceWith(document.adoptNode(fresh));
      live.dataset.refreshed = String(Date.now());
    } catch (error) {
      // the server did not answer: try again at the next turn
    }
    schedule();
  }

  function schedule() {
    if (timer === null && !document.hidden) timer = setTimeout(refresh, every);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden && timer !== null) { clearTimeout(timer); timer = null; }
    else schedule();
  });
  schedule();
})();
