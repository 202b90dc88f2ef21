// Shared by both pages: status line, progress bar, readable errors, Server-Sent Events.
function say(text) {
  document.getElementById("status").textContent = text;
}

function reset() {
  document.getElementById("error").textContent = "";
  document.getElementById("bar").value = 0;
  document.getElementById("result").hidden = true;
}

function fail(message) {
  document.getElementById("error").textContent = message;
  say("failed");
}

// fetch() that turns the app's error answers ({"error": …}) into a message on the page.
async function call(url, options) {
  try {
    const answer = await fetch(url, options);
    const body = await answer.json();
    if (!answer.ok) {
      fail(body.error || `HTTP ${answer.status}`);
      return null;
    }
    return body;
  } catch (error) {
    fail(`the app did not answer (${error})`);
    return null;
  }
}

// Follow a wait's events: progress moves the bar and the status line; done hands over the result.
function follow(url, onDone) {
  const events = new EventSource(url);
  events.addEventListener("progress", (e) => {
    const p = JSON.parse(e.data);
    const eta = p.eta != null ? `, about ${Math.ceil(p.eta)} s left` : "";
    const queue = p.queue_position ? `, position ${p.queue_position} in the queue` : "";
    if (p.percent != null) document.getElementById("bar").value = p.percent;
    say(`${p.status} ${p.percent != null ? Math.round(p.percent) + "%" : ""}${eta}${queue}`);
  });
  events.addEventListener("done", (e) => {
    events.close();
    document.getElementById("bar").value = 100;
    onDone(JSON.parse(e.data));
  });
  events.addEventListener("failed", (e) => {
    events.close();
    fail(JSON.parse(e.data).error);
  });
  events.onerror = () => {
    // The stream ended without done/failed (the app went away): stop retrying.
    if (events.readyState !== EventSource.CLOSED) {
      events.close();
      fail("lost the connection to the app; reload the page to follow the task again");
    }
  };
}
