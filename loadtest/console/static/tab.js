// Added to Locust's index page by the console: while the "Chaos" tab is selected, its panel shows
// the console (/chaos) in a frame. Locust renders extended tabs as tables only, so the frame is
// placed below the tab bar, and hidden again when another tab is selected.
"use strict";
(function () {
  const KEY = "chaos";
  let frame = null;

  function selected() {
    if (new URLSearchParams(location.search).get("tab") === KEY) return true;
    const tab = document.querySelector('[role="tab"][aria-selected="true"]');
    return Boolean(tab && tab.textContent.trim().toLowerCase() === KEY);
  }

  function place() {
    const bar = document.querySelector('[role="tablist"]');
    const show = Boolean(bar) && selected();
    if (!show) {
      if (frame) frame.style.display = "none";
      return;
    }
    const tabs = bar.closest(".MuiTabs-root") || bar;
    const host = tabs.parentElement && tabs.parentElement.parentElement;
    if (!host) return;
    if (!frame) {
      frame = document.createElement("iframe");
      frame.id = "chaos-console";
      frame.title = "Chaos console";
      frame.src = "./chaos";
      frame.style.cssText = "width:100%;border:0;display:block;";
    }
    if (frame.parentElement !== host) host.appendChild(frame);
    frame.style.display = "block";
    const top = frame.getBoundingClientRect().top + window.scrollY;
    frame.style.height = Math.max(window.innerHeight - top - 8, 900) + "px";
  }

  setInterval(place, 300);
  window.addEventListener("popstate", place);
})();
