// leadscore: progressive enhancement only. Every page works without this file: filters are a
// GET form and outcomes are POST forms followed by a redirect. With it, filters apply at once and
// an outcome is saved with fetch, after which the changed regions of the page are swapped in.
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  var FILTER_KEYS = ["timeline", "loan", "source", "engagement"];

  function filterForm() {
    return document.getElementById("filters");
  }

  function chosenFilters() {
    var chosen = {};
    var form = filterForm();
    if (!form) return chosen;
    Array.prototype.forEach.call(form.querySelectorAll("select"), function (select) {
      chosen[select.name] = select.value;
    });
    return chosen;
  }

  function applyFilters(updateUrl) {
    var form = filterForm();
    if (!form) return;
    var chosen = chosenFilters();
    var rows = document.querySelectorAll("#queue-region li.row");
    var shown = 0;
    Array.prototype.forEach.call(rows, function (row) {
      var ok = !chosen.lane || row.getAttribute("data-lane") === chosen.lane;
      FILTER_KEYS.forEach(function (key) {
        if (ok && chosen[key] && row.getAttribute("data-" + key) !== chosen[key]) ok = false;
      });
      row.hidden = !ok;
      if (ok) shown += 1;
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-lane-section]"), function (section) {
      var visible = section.querySelectorAll("li.row:not([hidden])").length;
      var count = section.querySelector(".lane-head .count");
      if (count) count.textContent = String(visible);
      section.hidden = Boolean(chosen.lane) && section.getAttribute("data-lane-section") !== chosen.lane;
    });
    var counter = document.getElementById("filter-count");
    if (counter) counter.textContent = "Showing " + shown + " of " + rows.length;
    if (updateUrl && window.history && window.history.replaceState) {
      var params = new URLSearchParams(window.location.search);
      ["lane"].concat(FILTER_KEYS).forEach(function (key) {
        if (chosen[key]) params.set(key, chosen[key]);
        else params.delete(key);
      });
      params.delete("logged");
      params.delete("lead");
      var query = params.toString();
      window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
    }
    // Outcome forms carry the filters so that a no-JS round trip comes back to the same view.
    var view = new URLSearchParams();
    ["lane"].concat(FILTER_KEYS).forEach(function (key) {
      if (chosen[key]) view.set(key, chosen[key]);
    });
    Array.prototype.forEach.call(document.querySelectorAll("form[data-outcome] input[name=view]"), function (input) {
      input.value = view.toString();
    });
  }

  function announce(text, isError) {
    var region = document.getElementById("flash");
    if (!region) return;
    region.innerHTML = "";
    var p = document.createElement("p");
    p.className = isError ? "alert" : "flash";
    p.textContent = text;
    region.appendChild(p);
  }

  function swapRegions(doc) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-swap][id]"), function (element) {
      var fresh = doc.getElementById(element.id);
      // innerHTML, not replaceWith: a live region must stay the same node to be announced.
      if (fresh) element.innerHTML = fresh.innerHTML;
    });
  }

  function setBusy(form, busy) {
    form.setAttribute("aria-busy", busy ? "true" : "false");
    Array.prototype.forEach.call(form.querySelectorAll("button"), function (button) {
      button.disabled = busy;
    });
  }

  function saveOutcome(event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-outcome")) return;
    if (!window.fetch || !window.DOMParser) return; // old browser: the plain form post works
    event.preventDefault();
    var submitter = event.submitter;
    var data = new FormData(form);
    if (submitter && submitter.name) data.set(submitter.name, submitter.value);
    var lead = form.getAttribute("data-lead");
    setBusy(form, true);
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(data),
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      redirect: "follow"
    })
      .then(function (response) {
        return response.text().then(function (html) {
          return { ok: response.ok, html: html, url: response.url };
        });
      })
      .then(function (result) {
        var doc = new DOMParser().parseFromString(result.html, "text/html");
        if (!result.ok) {
          var message = doc.querySelector(".error-message");
          announce(message ? message.textContent : "The outcome was not saved. Reload the page and try again.", true);
          setBusy(form, false);
          return;
        }
        if (result.url.indexOf("/login") !== -1) {
          window.location.assign("/login");
          return;
        }
        swapRegions(doc);
        applyFilters(false);
        var row = document.getElementById("lead-" + lead);
        var target = row && !row.hidden ? row.querySelector(".name a") : null;
        if (!target) target = document.getElementById("flash");
        if (target) target.focus();
      })
      .catch(function () {
        announce("The outcome was not saved: the server could not be reached. Try again.", true);
        setBusy(form, false);
      });
  }

  document.addEventListener("submit", saveOutcome);

  document.addEventListener("DOMContentLoaded", function () {
    var form = filterForm();
    if (!form) return;
    form.addEventListener("change", function () {
      applyFilters(true);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      applyFilters(true);
    });
    applyFilters(false);
  });
})();
