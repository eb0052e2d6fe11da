// Sportello's own script: the live timeline of a practice page and a fresh key per form.
// The timeline follows the API's live endpoint (/practices/{id}/events) with the page's
// session cookie; EventSource resumes by itself with Last-Event-ID after a dropped stream.
(function () {
  "use strict";

  // Parts of the page that make sense in one state only (the integration form, the
  // hand-over at the counter) follow the live state.
  function showFor(state, details) {
    document.querySelectorAll("[data-show-in]").forEach(function (part) {
      var states = part.getAttribute("data-show-in").split(" ");
      part.hidden = states.indexOf(state) < 0;
    });
    var deadline = document.querySelector("[data-deadline]");
    if (state === "integration_requested" && deadline && details.deadline) {
      var d = String(details.deadline).split("-");
      deadline.textContent = d.length === 3 ? "Entro il " + d[2] + "/" + d[1] + "/" + d[0] + "." : "";
    }
    var reasons = document.getElementById("motivi-preavviso");
    if (state === "observations_requested" && reasons && details.reasons) {
      reasons.textContent = "";
      details.reasons.forEach(function (r) {
        var item = document.createElement("li");
        item.textContent = r;
        reasons.appendChild(item);
      });
    }
    var missing = document.getElementById("mancanti");
    if (state === "integration_requested" && missing && details.missing) {
      missing.textContent = "";
      details.missing.forEach(function (m) {
        var item = document.createElement("li");
        item.textContent = m;
        missing.appendChild(item);
      });
    }
  }

  // As the page prints times: Italian local time, whatever the browser's zone.
  function localTime(at) {
    var when = new Date(at);
    if (isNaN(when.getTime())) {
      return at;
    }
    var parts = {};
    new Intl.DateTimeFormat("it-IT", {
      timeZone: "Europe/Rome", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
    }).formatToParts(when).forEach(function (p) { parts[p.type] = p.value; });
    return parts.day + "/" + parts.month + "/" + parts.year + " " +
      parts.hour + ":" + parts.minute + ":" + parts.second;
  }

  function followTimeline(list) {
    var labels = JSON.parse(list.getAttribute("data-labels") || "{}");
    var state = document.getElementById("stato");
    var announce = document.getElementById("aggiornamenti-stato");
    var source = new EventSource(list.getAttribute("data-events"));
    source.addEventListener("transition", function (message) {
      var t = JSON.parse(message.data);
      if (list.querySelector('[data-seq="' + t.seq + '"]')) {
        return;
      }
      var item = document.createElement("li");
      item.setAttribute("data-seq", String(t.seq));
      item.setAttribute("data-state", t.to);
      item.textContent = (labels[t.to] || t.to) + " — " + localTime(t.at) + " (" + t.actor + ")";
      list.appendChild(item);
      if (state) {
        state.textContent = labels[t.to] || t.to;
        state.setAttribute("data-state", t.to);
      }
      showFor(t.to, t.details || {});
      if (announce) {
        announce.textContent = "Nuovo stato: " + (labels[t.to] || t.to);
      }
    });
    source.addEventListener("expired", function () {
      // The stream's token ended with the session's allowance; a new connection asks again.
      source.close();
      window.setTimeout(function () { followTimeline(list); }, 1000);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var list = document.getElementById("timeline");
    if (list && window.EventSource) {
      followTimeline(list);
    }
    // One idempotency key per filled-in form: sending it twice names the same practice.
    document.querySelectorAll("input[data-fresh-key]").forEach(function (input) {
      if (!input.value && window.crypto && window.crypto.randomUUID) {
        input.value = "sportello:" + window.crypto.randomUUID();
      }
    });
  });
})();
