// The email editor: a field pressed in the list goes where the therapist was writing.
(function () {
  "use strict";
  var target = document.getElementById("part-text");
  document.addEventListener("focusin", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-wording")) {
      target = event.target;
    }
  });
  document.querySelectorAll("button[data-insert]").forEach(function (button) {
    button.addEventListener("click", function () {
      if (!target) { return; }
      var text = button.getAttribute("data-insert");
      var start = target.selectionStart, end = target.selectionEnd;
      target.setRangeText(text, start, end, "end");
      target.focus();
    });
  });
})();
