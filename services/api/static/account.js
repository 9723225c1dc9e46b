// Saylau Watch dashboard, sign-in form: a person signs in with her account's login and
// password, a machine's operator with an API key. The two ways are fieldsets of one form;
// the one not in use is hidden and disabled (so its required fields do not block the form),
// and the choice is remembered in this browser.
"use strict";

(() => {
  const $ = (selector) => document.querySelector(selector);
  const byKey = $("[data-testid=sign-in-by-key]");
  const byAccount = $("[data-testid=sign-in-by-account]");
  if (!byKey || !byAccount) return;

  function use(way) {
    const account = way === "account";
    byAccount.hidden = byAccount.disabled = !account;
    byKey.hidden = byKey.disabled = account;
    $("[data-testid=sign-in-with-account]").hidden = account;
    $("[data-testid=sign-in-with-key]").hidden = !account;
    localStorage.setItem("saylau.signInWith", way);
    $(`[data-testid=${account ? "sign-in-login" : "sign-in-key"}]`).focus();
  }

  $("[data-testid=sign-in-with-account]").addEventListener("click", () => use("account"));
  $("[data-testid=sign-in-with-key]").addEventListener("click", () => use("key"));
  if (localStorage.getItem("saylau.signInWith") === "account") use("account");
})();
