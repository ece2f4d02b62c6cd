"use strict";
// The dashboard's whole client: log in with the OAuth2 password form, keep
// the token in memory, send it as a bearer token, and show the "detail" of
// any error the server (or Gatehouse in front of it) answers with.
(function () {
  const $ = (id) => document.getElementById(id);
  let token = "";

  async function call(method, path, body) {
    const headers = {};
    if (token) headers["Authorization"] = "Bearer " + token;
    if (body !== undefined && !(body instanceof URLSearchParams)) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    const res = await fetch(path, { method, headers, body });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      throw new Error(typeof data.detail === "string" ? data.detail : "HTTP " + res.status);
    }
    return data;
  }

  function fail(err) {
    $("error").textContent = err.message;
  }

  async function loadStacks() {
    const page = await call("GET", "/api/v1/stacks");
    const list = $("stacks");
    list.replaceChildren();
    for (const s of page.items) {
      const li = document.createElement("li");
      li.textContent = s.name;
      list.append(li);
    }
  }

  $("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("error").textContent = "";
    try {
      const form = new URLSearchParams({ username: $("username").value, password: $("password").value });
      token = (await call("POST", "/api/v1/login", form)).access_token;
      const me = await call("GET", "/api/v1/current-user");
      $("who").textContent = "Logged in as " + me.name;
      $("login").hidden = true;
      $("app").hidden = false;
      await loadStacks();
    } catch (err) {
      fail(err);
    }
  });

  $("register").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("error").textContent = "";
    try {
      await call("POST", "/api/v1/workspaces/default/stacks", { name: $("stack").value });
      await loadStacks();
    } catch (err) {
      fail(err);
    }
  });
})();
