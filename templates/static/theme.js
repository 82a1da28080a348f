/* ccsgen: apply the saved theme before the page paints (loaded in <head>, tiny on purpose). */
(function () {
  var t = null;
  try { t = window.localStorage.getItem("ccsgen-theme"); } catch (e) { /* file:// or storage disabled */ }
  if (t === "light" || t === "dark") { document.documentElement.setAttribute("data-theme", t); }
})();
