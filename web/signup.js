// Reference sign-up form: posts to <api base>/v1/optins and shows "check your phone" or the API's error.
// Plain browser JS (no framework, no build step); index.html explains the data-* settings.
(function () {
  "use strict";

  var form = document.getElementById("sms-signup");
  if (!form) {
    return;
  }
  var phoneInput = document.getElementById("signup-phone");
  var programSelect = document.getElementById("signup-program");
  var disclosure = document.getElementById("signup-consent");
  var captchaArea = document.getElementById("captcha");
  var errorBox = document.getElementById("signup-error");
  var submitButton = document.getElementById("signup-submit");
  var done = document.getElementById("signup-done");

  // The hidden input each real widget adds to the enclosing form, holding its token.
  var TOKEN_FIELDS = {
    turnstile: "cf-turnstile-response",
    hcaptcha: "h-captcha-response",
    recaptcha: "g-recaptcha-response",
  };
  // The API's own pattern for `language`; anything else is left out rather than refused.
  var LANGUAGE = /^[A-Za-z]{2}([-_][A-Za-z0-9]{2,8})?$/;
  var LOOPBACK = ["localhost", "127.0.0.1", "[::1]"];

  function apiBase() {
    var override = new URLSearchParams(window.location.search).get("api");
    // Only on a local page: elsewhere a crafted link could send visitors' numbers to another server.
    if (override && LOOPBACK.indexOf(window.location.hostname) !== -1) {
      return override.replace(/\/+$/, "");
    }
    var configured = (form.getAttribute("data-api-base") || "").trim();
    return configured ? configured.replace(/\/+$/, "") : window.location.origin;
  }

  function captchaProvider() {
    return (form.getAttribute("data-captcha-provider") || "local").trim().toLowerCase();
  }

  // ------------------------------------------------------------------ disclosure

  function chosenProgram() {
    return programSelect.options[programSelect.selectedIndex];
  }

  function renderDisclosure() {
    var option = chosenProgram();
    if (!option) {
      return;
    }
    var parts = {
      name: option.getAttribute("data-name") || option.textContent.trim(),
      frequency: option.getAttribute("data-frequency"),
    };
    Object.keys(parts).forEach(function (key) {
      var slot = disclosure.querySelector('[data-consent="' + key + '"]');
      if (slot && parts[key]) {
        slot.textContent = parts[key];
      }
    });
    var terms = disclosure.querySelector('[data-consent="terms"]');
    var termsUrl = option.getAttribute("data-terms-url");
    if (terms && termsUrl) {
      terms.href = termsUrl;
    }
  }

  // What the visitor reads (rendered whitespace collapsed), so the stored proof matches the page.
  function consentText() {
    return disclosure.textContent.replace(/\s+/g, " ").trim();
  }

  // ------------------------------------------------------------------ CAPTCHA

  var localToken = null;

  // The local stack's provider has no widget: a checkbox gives the passing test token, and the
  // token field lets a tester send another one (test-fail) to see a refusal.
  function renderLocalCaptcha() {
    var box = document.createElement("fieldset");
    box.className = "captcha-local";
    var legend = document.createElement("legend");
    legend.textContent = "Local test CAPTCHA";
    box.appendChild(legend);

    var checkLabel = document.createElement("label");
    var check = document.createElement("input");
    check.type = "checkbox";
    check.id = "captcha-local-check";
    checkLabel.appendChild(check);
    checkLabel.appendChild(document.createTextNode(" I'm not a robot"));
    box.appendChild(checkLabel);

    var tokenLabel = document.createElement("label");
    tokenLabel.htmlFor = "captcha-local-token";
    tokenLabel.textContent = "Test token";
    var token = document.createElement("input");
    token.type = "text";
    token.id = "captcha-local-token";
    token.autocomplete = "off";
    token.spellcheck = false;
    token.setAttribute("aria-describedby", "captcha-local-hint");
    var hint = document.createElement("p");
    hint.id = "captcha-local-hint";
    hint.className = "hint";
    hint.textContent = "test-pass passes, test-fail fails, no token is refused.";
    box.appendChild(tokenLabel);
    box.appendChild(token);
    box.appendChild(hint);

    check.addEventListener("change", function () {
      token.value = check.checked ? "test-pass" : "";
    });
    token.addEventListener("input", function () {
      check.checked = token.value.trim() === "test-pass";
    });
    localToken = token;
    captchaArea.appendChild(box);
  }

  function captchaToken() {
    var provider = captchaProvider();
    if (provider === "local") {
      return localToken ? localToken.value.trim() : "";
    }
    var names = TOKEN_FIELDS[provider] ? [TOKEN_FIELDS[provider]] : Object.keys(TOKEN_FIELDS).map(function (key) {
      return TOKEN_FIELDS[key];
    });
    for (var i = 0; i < names.length; i += 1) {
      var field = form.querySelector('[name="' + names[i] + '"]');
      if (field && field.value) {
        return field.value;
      }
    }
    return "";
  }

  // Real tokens are single-use: after a refusal the widget must issue a new one.
  function resetCaptcha() {
    var provider = captchaProvider();
    try {
      if (provider === "turnstile" && window.turnstile) {
        window.turnstile.reset();
      } else if (provider === "hcaptcha" && window.hcaptcha) {
        window.hcaptcha.reset();
      } else if (provider === "recaptcha" && window.grecaptcha) {
        window.grecaptcha.reset();
      }
    } catch (ignored) {
      // A widget that is not rendered yet has nothing to reset.
    }
  }

  // ------------------------------------------------------------------ submitting

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function clearError() {
    errorBox.textContent = "";
    errorBox.hidden = true;
  }

  function language() {
    var lang = (document.documentElement.getAttribute("lang") || "").trim();
    return LANGUAGE.test(lang) ? lang : null;
  }

  function showDone(result, phone) {
    var title = document.getElementById("signup-done-title");
    var message = document.getElementById("signup-done-message");
    var expiry = document.getElementById("signup-done-expiry");
    var noText = document.getElementById("signup-done-no-text");
    var option = chosenProgram();
    var sender = option ? (option.getAttribute("data-sender") || "").trim() : "";
    noText.hidden = true;
    if (result.status === "subscribed") {
      title.textContent = "You're subscribed";
      message.textContent = "Texts will come to " + phone + ".";
      expiry.hidden = true;
    } else {
      if (sender) {
        // Shown whether or not the prompt was held (the answer never says): a YES from the phone confirms.
        document.getElementById("signup-sender").textContent = sender;
        noText.hidden = false;
      }
      title.textContent = "Check your phone";
      message.textContent = result.prompt_sent === false
        ? "We already sent a text to " + phone + " a few minutes ago. Reply YES to it to confirm."
        : "We sent a text to " + phone + ". Reply YES to confirm your subscription.";
      if (result.expires_at) {
        var time = document.getElementById("signup-expires-at");
        time.dateTime = result.expires_at;
        var when = new Date(result.expires_at);
        time.textContent = isNaN(when.getTime()) ? result.expires_at : when.toLocaleString();
        expiry.hidden = false;
      }
    }
    form.hidden = true;
    done.hidden = false;
    done.focus();
  }

  function problemMessage(response, body) {
    if (body && typeof body.detail === "string" && body.detail) {
      return body.detail;
    }
    if (body && typeof body.message === "string" && body.message) {
      return body.message; // API Gateway's own refusals (403, 429 throttling) have no detail
    }
    if (response.status >= 500) {
      return "The sign-up service had a problem. Please try again in a few minutes.";
    }
    return "The sign-up was refused (HTTP " + response.status + ").";
  }

  function readJson(response) {
    var type = response.headers.get("Content-Type") || "";
    if (type.indexOf("json") === -1) {
      return Promise.resolve(null);
    }
    return response.json().catch(function () {
      return null;
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearError();
    var phone = phoneInput.value.trim();
    if (!phone) {
      showError("Enter your mobile phone number.");
      phoneInput.focus();
      return;
    }
    var token = captchaToken();
    if (!token) {
      showError("Complete the CAPTCHA before signing up.");
      return;
    }
    var body = {
      phone: phone,
      program: programSelect.value,
      source: "web_form",
      use_double_opt_in: true,
      captcha_token: token,
      consent_text: consentText(),
      page_url: window.location.href,
    };
    var lang = language();
    if (lang) {
      body.language = lang;
    }
    submitButton.disabled = true;
    form.setAttribute("aria-busy", "true");
    fetch(apiBase() + "/v1/optins", {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json", Accept: "application/json, application/problem+json" },
      body: JSON.stringify(body),
    })
      .then(function (response) {
        return readJson(response).then(function (result) {
          if (response.ok && result) {
            showDone(result, phone);
            return;
          }
          resetCaptcha();
          showError(problemMessage(response, result));
        });
      })
      .catch(function () {
        // A network failure and a CORS refusal look the same to the page.
        resetCaptcha();
        showError("Could not reach the sign-up service. Check your connection and try again.");
      })
      .then(function () {
        submitButton.disabled = false;
        form.removeAttribute("aria-busy");
      });
  });

  programSelect.addEventListener("change", renderDisclosure);
  renderDisclosure();
  if (captchaProvider() === "local") {
    renderLocalCaptcha();
  }
  form.setAttribute("data-ready", "true");
})();
