/*! CartAssist console: the keyboard shortcuts (the help dialog lists them). */

import { claimTop, toggleStatus } from "./actions.js";
import { moveSelection } from "./chats.js";
import { openClose, openDialog, openReplies, openTransfer } from "./dialogs.js";
import { $, isTyping } from "./dom.js";
import { hideToast } from "./feedback.js";
import { focusRemedies } from "./remedies.js";

// ---------------------------------------------------------------- keyboard

export function onKeyDown(event) {
  const code = event.code;
  if (event.altKey && !event.ctrlKey && !event.metaKey) {
    // event.code, not event.key: on a Mac, Alt+J types "∆".
    const action = {
      KeyJ: function () { moveSelection(1); },
      KeyK: function () { moveSelection(-1); },
      KeyC: claimTop,
      KeyR: openReplies,
      KeyT: openTransfer,
      KeyX: openClose,
      KeyS: toggleStatus,
      KeyO: focusRemedies,
      KeyM: function () {
        const box = $("composer-text");
        if (!box.disabled && !$("chat").hidden) box.focus();
      },
    }[code];
    if (action) {
      event.preventDefault();
      action();
    }
    return;
  }
  if (event.key === "Escape" && !$("toast").hidden && !document.querySelector("dialog[open]")) {
    hideToast();
    return;
  }
  if (event.key === "?" && !isTyping(event.target) && !event.ctrlKey && !event.metaKey) {
    event.preventDefault();
    openDialog("help-dialog");
  }
}
