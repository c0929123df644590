// The case summary on a task page (web/templates/_case_summary.html) starts folded on a phone,
// so the form to fill is on the first screen; a tap on its title opens it.
(function () {
  if (!window.matchMedia || !window.matchMedia("(max-width: 40rem)").matches) return;
  document.querySelectorAll("details.case-summary[data-collapse-phone]").forEach(function (box) {
    box.open = false;
  });
})();
