// A Copy button for a value shown once (a new API token): <button
// data-copy-target="id-of-a-readonly-input" hidden>. The button stays hidden
// without this script. In a secure context (HTTPS, or this host) the value goes
// to the clipboard; elsewhere, or when the browser refuses, the input's text is
// selected for the reader to copy with their keyboard.
(function () {
  "use strict";

  function say(button, text) {
    const status = document.getElementById(button.dataset.copyStatus);
    if (status) status.textContent = text;
  }

  function selectText(input, button) {
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
    say(button, "Selected: press Ctrl+C (⌘C on a Mac) to copy it.");
  }

  async function copy(button) {
    const input = document.getElementById(button.dataset.copyTarget);
    if (!input) return;
    if (!(window.isSecureContext && navigator.clipboard && navigator.clipboard.writeText)) {
      selectText(input, button);
      return;
    }
    try {
      await navigator.clipboard.writeText(input.value);
      button.textContent = "Copied";
      say(button, "Copied to the clipboard.");
    } catch (error) {
      selectText(input, button);
    }
  }

  document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      copy(button);
    });
  });
})();
