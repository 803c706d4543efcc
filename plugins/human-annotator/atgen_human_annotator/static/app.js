// atgen annotate: keyboard shortcuts, draft reset, empty-answer check, unsaved-changes warning and the
// wait for the next batch. The pages work without this file; it never builds HTML from data.
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }

  function follow(id) {
    var el = byId(id);
    if (el && el.tagName === "A") { window.location.assign(el.getAttribute("href")); }
  }

  function isTyping(target) {
    if (!target) { return false; }
    var tag = target.tagName;
    return tag === "TEXTAREA" || tag === "INPUT" || tag === "SELECT" || target.isContentEditable;
  }

  function setupItem() {
    var form = byId("answer-form");
    var answer = byId("answer");
    var draft = byId("draft");
    var resetButton = byId("use-draft");
    var errorBox = byId("client-error");
    if (!form || !answer) { return; }
    var initial = answer.value;
    var submitting = false;

    function focusEnd() {
      answer.focus();
      var end = answer.value.length;
      answer.setSelectionRange(end, end);
    }

    function showError(text) {
      errorBox.textContent = text;
      errorBox.hidden = false;
    }

    function submitWith(buttonId) {
      var button = byId(buttonId);
      if (!button) { return; }
      if (typeof form.requestSubmit === "function") { form.requestSubmit(button); } else { button.click(); }
    }

    function resetToDraft() {
      if (!draft) { return; }
      answer.value = draft.textContent;
      focusEnd();
    }

    focusEnd();
    if (resetButton) { resetButton.addEventListener("click", resetToDraft); }
    answer.addEventListener("input", function () { errorBox.hidden = true; });

    form.addEventListener("submit", function (event) {
      var action = event.submitter ? event.submitter.value : "save";
      if (submitting) { event.preventDefault(); return; }
      if (action === "save" && answer.value.trim() === "") {
        event.preventDefault();
        showError("The answer is empty. Type the label, or press Skip.");
        focusEnd();
        return;
      }
      submitting = true;
    });

    window.addEventListener("beforeunload", function (event) {
      if (!submitting && answer.value !== initial) {
        event.preventDefault();
        event.returnValue = "";
      }
    });

    document.addEventListener("keydown", function (event) {
      var mod = event.ctrlKey || event.metaKey;
      if (event.key === "Enter" && mod) {
        event.preventDefault();
        submitWith(event.shiftKey ? "skip" : "save");
        return;
      }
      if (event.key === "Escape" && event.target === answer) {
        answer.blur();
        return;
      }
      if (mod || event.altKey || isTyping(event.target)) { return; }
      switch (event.key) {
        case "j": case "ArrowRight": follow("next"); break;
        case "k": case "ArrowLeft": follow("prev"); break;
        case "e": case "i": event.preventDefault(); focusEnd(); break;
        case "d": event.preventDefault(); resetToDraft(); break;
        case "s": submitWith("skip"); break;
        case "o": follow("overview-link"); break;
        default: return;
      }
    });
  }

  function setupOverview() {
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) { return; }
      if (event.key === "Enter" || event.key === "j") { follow("continue"); }
    });
    if (document.body.getAttribute("data-poll") !== "1") { return; }
    var round = null;
    function check() {
      fetch("/api/state", { credentials: "same-origin", cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (state) {
          if (!state) { return; }
          if (round === null) { round = state.round; }
          if (state.pending > 0 || state.round !== round) {
            window.location.assign("/");
          }
        })
        .catch(function () { /* server stopped: the run is over */ });
    }
    window.setInterval(check, 3000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var page = document.body.getAttribute("data-page");
    if (page === "item") { setupItem(); }
    if (page === "overview") { setupOverview(); }
  });
})();
