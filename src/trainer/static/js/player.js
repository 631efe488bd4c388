// Answer submission that survives a flaky network: one click sends once, a failure says so plainly,
// keeps the trainee's choice and lets them send again (the same token, so the server records it once).
(function () {
  "use strict";
  var feedback = document.getElementById("feedback");
  if (feedback && (window.location.hash === "#feedback" || sessionStorage.getItem("trainer-focus-feedback"))) {
    sessionStorage.removeItem("trainer-focus-feedback");
    feedback.focus();
  }
  var form = document.querySelector("form.answer-form");
  if (!form || !window.fetch) { return; }
  var button = form.querySelector("button[type=submit]");
  var status = form.querySelector(".send-status");
  var sending = false;
  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("is-hidden", !text);
    status.classList.toggle("send-status--error", !!isError);
    status.setAttribute("role", isError ? "alert" : "status");
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) { return; }
    sending = true;
    button.disabled = true;
    say("送信しています…", false);
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        if (response.ok && response.redirected) {
          sessionStorage.setItem("trainer-focus-feedback", "1");  // fetch drops the #feedback fragment
          window.location.assign(response.url);
          return;
        }
        if (response.status === 422 || response.status === 400) {
          return response.text().then(function (html) {
            document.open(); document.write(html); document.close();
          });
        }
        throw new Error("status " + response.status);
      })
      .catch(function () {
        sending = false;
        button.disabled = false;
        say("送信できませんでした。通信の状態を確かめて、もう一度「回答する」を押してください。選んだ内容はそのまま残っています。", true);
      });
  });
}());
