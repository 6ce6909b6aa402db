// Added to Locust's index page by the console: while the "Chaos" tab is selected, its panel shows
// the console (/chaos) in a frame. Locust renders extended tabs as tables only, so the frame is
// placed below the tab bar, and hidden again when another tab is selected. Before the first run
// Locust shows only its start form, no tabs: a link to the console stands in the corner then.
"use strict";
(function () {
  const KEY = "chaos";
  let frame = null;

  function selected() {
    if (new URLSearchParams(location.search).get("tab") === KEY) return true;
    const tab = document.querySelector('[role="tab"][aria-selected="true"]');
    return Boolean(tab && tab.textContent.trim().toLowerCase() === KEY);
  }

  function formLink(shown) {
    let link = document.getElementById("chaos-console-link");
    if (!shown) {
      if (link) link.style.display = "none";
      return;
    }
    if (!link) {
      link = document.createElement("a");
      link.id = "chaos-console-link";
      link.href = "./chaos";
      link.textContent = "Chaos console: faults, scenarios, reports";
      link.style.cssText =
        "position:fixed;right:16px;bottom:16px;z-index:2000;padding:8px 12px;border-radius:4px;" +
        "background:#1b5e20;color:#fff;font:14px sans-serif;text-decoration:none;";
      document.body.appendChild(link);
    }
    link.style.display = "block";
  }

  function place() {
    const bar = document.querySelector('[role="tablist"]');
    formLink(!bar && Boolean(document.querySelector('[name="userCount"]')));
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
