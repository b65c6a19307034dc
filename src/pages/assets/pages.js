// prickle's pages: every action is a call to the JSON API with the session
// cookie (and the CSRF token on unsafe methods), so the API's rules decide.
// Errors are shown next to the field their `attr` names, else in the form's
// top alert. No dependencies, no build step.
"use strict";
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const page = document.body.dataset.page;
  const ANONYMOUS = ["login", "signup"];

  function cookie(name) {
    for (const part of document.cookie.split(";")) {
      const at = part.indexOf("=");
      if (at > 0 && part.slice(0, at).trim() === name) {
        return decodeURIComponent(part.slice(at + 1).trim());
      }
    }
    return "";
  }

  function toLogin() {
    const next = location.pathname + location.search;
    location.assign("/login?next=" + encodeURIComponent(next));
  }

  // One API call: {ok, status, data}. A 401 on a signed-in page means the
  // session is gone: back to the login page.
  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && method !== "HEAD") {
      const token = cookie("csrftoken");
      if (token) headers["X-CSRFToken"] = token;
    }
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      return { ok: false, status: 0, data: { detail: "The server could not be reached. Try again.", attr: null } };
    }
    let data = null;
    const text = await res.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = { detail: `The server answered ${res.status}.`, attr: null };
      }
    }
    if (res.status === 401 && !ANONYMOUS.includes(page)) toLogin();
    return { ok: res.ok, status: res.status, data };
  }

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
    return e;
  }

  function when(ts) {
    if (!ts) return "never";
    const d = new Date(ts);
    return isNaN(d) ? String(ts) : d.toLocaleString();
  }

  function setStatus(id, text) {
    const s = document.getElementById(id);
    if (s) s.textContent = text;
  }

  function clearErrors(scope) {
    for (const e of $$("[data-error-for]", scope)) e.textContent = "";
    for (const e of $$("[aria-invalid]", scope)) e.removeAttribute("aria-invalid");
  }

  // Shows an API error in `scope` (a form, a dialog, or the page): next to
  // the field its `attr` names, else in the first field-less alert.
  function report(scope, r) {
    const data = r.data || {};
    let detail = data.detail;
    if (!detail) {
      detail = r.status === 0 ? "The server could not be reached." : `Something went wrong (${r.status}).`;
    }
    const attr = typeof data.attr === "string" ? data.attr : "";
    let slot = null;
    for (const name of attr ? [attr, attr.split("__")[0], attr.split(".")[0]] : []) {
      slot = scope.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
      if (slot) break;
    }
    if (slot) {
      const control = slot.parentElement && slot.parentElement.querySelector("input, select, textarea");
      if (control) {
        control.setAttribute("aria-invalid", "true");
        const closed = control.closest("details:not([open])");
        if (closed) closed.open = true;
      }
    } else {
      slot = scope.querySelector('[data-error-for=""]') || $('main [data-error-for=""]');
    }
    if (!slot) return;
    slot.textContent = detail;
    // Sensitive actions (key writes) want a recent login: offer one that comes back here.
    if (r.status === 403 && /recently authenticated/.test(detail)) {
      const next = encodeURIComponent(location.pathname + location.search);
      slot.append(" ", el("a", { href: `/login?next=${next}`, text: "Log in again" }));
    }
  }

  // A form sent through the API: errors cleared, submit disabled meanwhile.
  function onSubmit(form, run) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const buttons = $$('button[type="submit"]', form);
      buttons.forEach((b) => (b.disabled = true));
      try {
        await run();
      } finally {
        buttons.forEach((b) => (b.disabled = false));
      }
    });
  }

  function copyButton(button, source) {
    button.addEventListener("click", async () => {
      const text = source.textContent;
      const note = button.parentElement.querySelector(".copied");
      try {
        await navigator.clipboard.writeText(text);
        if (note) note.textContent = "Copied.";
      } catch (e) {
        const range = document.createRange();
        range.selectNodeContents(source);
        const sel = getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        if (note) note.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
      }
    });
  }

  function rows(data) {
    return Array.isArray(data) ? data : (data && data.results) || [];
  }

  function jsonBlock(id) {
    const block = document.getElementById(id);
    return block ? JSON.parse(block.textContent) : null;
  }

  let meCall = null;
  function me() {
    if (!meCall) {
      meCall = api("GET", "/api/users/@me/").then((r) => {
        if (!r.ok) throw r;
        return r.data;
      });
    }
    return meCall;
  }

  async function initNav() {
    const out = $("#logout");
    if (out) {
      out.addEventListener("click", async () => {
        out.disabled = true;
        await api("POST", "/api/logout/");
        location.assign("/login");
      });
    }
    const sel = $("#org-switcher");
    if (!sel) return;
    let user;
    try {
      user = await me();
    } catch (r) {
      return;
    }
    sel.textContent = "";
    const orgs = user.organizations || [];
    for (const o of orgs) sel.append(el("option", { value: o.id, text: o.name }));
    if (!orgs.length) sel.append(el("option", { value: "", text: "No organization" }));
    if (user.organization) sel.value = user.organization.id;
    sel.addEventListener("change", async () => {
      if (!sel.value) return;
      const r = await api("PATCH", "/api/users/@me/", { set_current_organization: sel.value });
      if (r.ok) location.reload();
      else report($("main"), r);
    });
  }

  const pages = {};

  function safeNext() {
    const next = new URLSearchParams(location.search).get("next") || "/";
    const ok = next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\");
    return ok ? next : "/";
  }

  pages.login = () => {
    const form = $("#login-form");
    onSubmit(form, async () => {
      const r = await api("POST", "/api/login/", {
        email: $("#email").value.trim(),
        password: $("#password").value,
      });
      if (r.ok) location.assign(safeNext());
      else report(form, r);
    });
  };

  pages.signup = () => {
    const form = $("#signup-form");
    if (!form) return;
    const id = location.pathname.split("/")[2];
    const token = new URLSearchParams(location.search).get("token") || "";
    const path = `/api/signup/${encodeURIComponent(id)}/`;
    const here = encodeURIComponent(location.pathname + location.search);
    const show = (r) => {
      if (r.data && r.data.code === "account_exists") {
        // The email has an account: log in, then come back to this link.
        const slot = $('[data-error-for=""]', form);
        slot.textContent = "An account with this email exists already. ";
        slot.append(el("a", { href: `/login?next=${here}`, text: "Log in to join" }));
      } else {
        report(form, r);
      }
    };
    api("GET", `${path}?token=${encodeURIComponent(token)}`).then((r) => {
      if (!r.ok) show(r);
    });
    onSubmit(form, async () => {
      const body = { token };
      if (!form.hasAttribute("data-signed-in")) {
        body.first_name = $("#first_name").value.trim();
        body.password = $("#password").value;
      }
      const r = await api("POST", path, body);
      if (r.ok) location.assign("/");
      else show(r);
    });
  };

  async function projectList() {
    const r = await api("GET", "/api/organizations/@current/projects/?limit=1000");
    return r.ok ? rows(r.data) : [];
  }

  pages.projects = async () => {
    const list = $("#project-list");
    const form = $("#project-create");
    onSubmit(form, async () => {
      const r = await api("POST", "/api/organizations/@current/projects/", {
        name: $("#new-project-name").value.trim(),
      });
      if (r.ok) location.assign(`/projects/${r.data.id}`);
      else report(form, r);
    });
    setStatus("projects-status", "Loading…");
    const r = await api("GET", "/api/organizations/@current/projects/?limit=1000");
    setStatus("projects-status", "");
    if (!r.ok) return report(document, r);
    const projects = rows(r.data);
    for (const p of projects) {
      list.append(el("li", null, el("a", { href: `/projects/${p.id}`, text: p.name })));
    }
    if (!projects.length) setStatus("projects-status", "No projects yet.");
  };

  // Settings controls: read and written by their declared kind.
  function readControl(c) {
    const kind = c.dataset.kind;
    const nullable = c.hasAttribute("data-nullable");
    if (kind === "boolean") return c.checked;
    if (kind === "choice") {
      const o = c.selectedOptions[0];
      if (!o || o.hasAttribute("data-null")) return null;
      return o.hasAttribute("data-json") ? JSON.parse(o.value) : o.value;
    }
    if (kind === "integer") {
      if (c.value === "") return nullable ? null : 0;
      return Number(c.value);
    }
    if (kind === "json") {
      if (c.value.trim() === "") return null;
      try {
        return JSON.parse(c.value);
      } catch (e) {
        throw new Error("Enter valid JSON.");
      }
    }
    return nullable && c.value === "" ? null : c.value;
  }

  function writeControl(c, v) {
    const kind = c.dataset.kind;
    if (v === undefined) v = null;
    if (kind === "boolean") c.checked = !!v;
    else if (kind === "choice") {
      let match = null;
      for (const o of c.options) {
        if (o.hasAttribute("data-null")) {
          if (v === null) match = o;
        } else if (v !== null && (o.hasAttribute("data-json") ? JSON.parse(o.value) : o.value) === v) {
          match = o;
        }
      }
      if (!match && v !== null) {
        match = el("option", { value: String(v), text: String(v) });
        c.append(match);
      }
      if (match) match.selected = true;
    } else if (kind === "json") c.value = v === null ? "" : JSON.stringify(v, null, 2);
    else c.value = v === null ? "" : String(v);
  }

  pages.project = async () => {
    const title = $("#project-title");
    const id = title.dataset.project;
    const form = $("#project-settings");
    const controls = $$("[data-setting]", form);
    let loaded = {};
    const show = (data) => {
      loaded = data;
      title.textContent = data.name;
      document.title = `${data.name} · prickle`;
      for (const c of controls) writeControl(c, data[c.dataset.setting]);
    };
    setStatus("project-status", "Loading…");
    const r = await api("GET", `/api/projects/${encodeURIComponent(id)}/`);
    setStatus("project-status", "");
    if (!r.ok) {
      if (r.status === 404) title.textContent = "Project not found";
      return report(form, r);
    }
    show(r.data);
    onSubmit(form, async () => {
      const body = {};
      for (const c of controls) {
        const name = c.dataset.setting;
        let v;
        try {
          v = readControl(c);
        } catch (e) {
          return report(form, { status: 400, data: { detail: e.message, attr: name } });
        }
        const was = loaded[name] === undefined ? null : loaded[name];
        if (JSON.stringify(v) !== JSON.stringify(was)) body[name] = v;
      }
      if (!Object.keys(body).length) return setStatus("project-status", "Nothing to save.");
      const w = await api("PATCH", `/api/projects/${encodeURIComponent(id)}/`, body);
      if (!w.ok) return report(form, w);
      show(w.data);
      setStatus("project-status", "Saved.");
    });

    const dialog = $("#delete-dialog");
    $("#delete-project").addEventListener("click", () => {
      clearErrors(dialog);
      dialog.showModal();
    });
    $("#delete-confirm").addEventListener("click", async () => {
      const d = await api("DELETE", `/api/projects/${encodeURIComponent(id)}/`);
      if (d.ok) location.assign("/projects");
      else report(dialog, d);
    });
    accessSection(id, r.data.organization || "@current");
  };

  async function accessSection(id, org) {
    const path = `/api/projects/${encodeURIComponent(id)}/access_controls/`;
    const orgPath = `/api/organizations/${org}`;
    const defaults = $("#access-default");
    const add = $("#access-add");
    const tbody = $("#access-rules tbody");
    const [members, roles] = await Promise.all([
      api("GET", `${orgPath}/members/?limit=1000`),
      api("GET", `${orgPath}/roles/?limit=1000`),
    ]);
    const memberName = {};
    for (const m of rows(members.data)) {
      memberName[m.id] = m.user.email;
      $("#access-member").append(el("option", { value: m.id, text: m.user.email }));
    }
    const roleName = {};
    const addRole = (role) => {
      roleName[role.id] = role.name;
      $("#access-role").append(el("option", { value: role.id, text: role.name }));
      $("#role-list").append(el("li", { text: role.name }));
    };
    const known = roles.ok ? rows(roles.data) : [];
    known.forEach(addRole);
    if (!known.length) $("#role-list").append(el("li", { class: "none", text: "No roles yet." }));
    const roleForm = $("#role-create");
    onSubmit(roleForm, async () => {
      const r = await api("POST", `${orgPath}/roles/`, { name: $("#role-name").value.trim() });
      if (!r.ok) return report(roleForm, r);
      const none = $("#role-list .none");
      if (none) none.remove();
      addRole(r.data);
      roleForm.reset();
    });

    async function put(scope, body) {
      const r = await api("PUT", path, body);
      if (!r.ok) report(scope, r);
      else await load();
      return r.ok;
    }

    async function load() {
      const r = await api("GET", path);
      if (!r.ok) return report(defaults, r);
      const rules = r.data.access_controls || [];
      const fallback = rules.find((x) => !x.organization_member && !x.role);
      $("#access-default-level").value = fallback ? fallback.access_level : r.data.default_access_level;
      tbody.textContent = "";
      for (const rule of rules) {
        if (!rule.organization_member && !rule.role) continue;
        const who = rule.organization_member
          ? `Member ${memberName[rule.organization_member] || rule.organization_member}`
          : `Role ${roleName[rule.role] || rule.role}`;
        const body = rule.organization_member
          ? { organization_member: rule.organization_member }
          : { role: rule.role };
        tbody.append(
          el("tr", null,
            el("td", { text: who }),
            el("td", { text: rule.access_level }),
            el("td", null, el("button", {
              type: "button",
              class: "danger",
              text: "Remove rule",
              "aria-label": `Remove the rule for ${who}`,
              onclick: () => put(add, { ...body, access_level: null }),
            })),
          ),
        );
      }
      if (!r.data.user_can_edit_access_levels) {
        for (const c of $$("#access-default select, #access-default button, #access-rules button, #access-add select, #access-add button")) {
          c.disabled = true;
        }
      }
    }

    onSubmit(defaults, async () => {
      await put(defaults, { access_level: $("#access-default-level").value });
    });
    onSubmit(add, async () => {
      const member = $("#access-member").value;
      const role = $("#access-role").value;
      const body = { access_level: $("#access-level").value };
      if (member) body.organization_member = member;
      if (role) body.role = role;
      if (await put(add, body)) add.reset();
    });
    await load();
  }

  pages.members = async () => {
    const matrix = jsonBlock("member-rules");
    const names = jsonBlock("level-names");
    const tbody = $("#members tbody");
    const search = $("#member-search");
    let user;
    try {
      user = await me();
    } catch (r) {
      return report(document, r);
    }
    const mine = user.organization ? user.organization.membership_level : null;

    function row(m) {
      const self = m.user.uuid === user.uuid;
      const allowed = matrix[`${mine}:${m.level}:${self ? 1 : 0}`] || { update: [], remove: false };
      const path = `/api/organizations/@current/members/${encodeURIComponent(m.user.uuid)}/`;
      const name = `${m.user.first_name || ""} ${m.user.last_name || ""}`.trim();
      const tr = el("tr", { "data-email": m.user.email });
      tr.append(el("td", { text: name || "—" }), el("td", { text: m.user.email }));
      const levelCell = el("td");
      const actions = el("div", { class: "actions" });
      const choices = allowed.update.filter((l) => l !== m.level);
      if (choices.length) {
        const id = `level-${m.user.uuid}`;
        const select = el("select", { id, name: "level", "aria-describedby": `${id}-who` });
        for (const l of [m.level, ...choices].sort((a, b) => a - b)) {
          select.append(el("option", { value: String(l), text: names[l] || String(l), selected: l === m.level }));
        }
        levelCell.append(
          el("label", { for: id, class: "sr-only", text: "Level" }),
          el("span", { id: `${id}-who`, class: "sr-only", text: `of ${m.user.email}` }),
          select,
        );
        actions.append(el("button", {
          type: "button",
          text: "Save",
          onclick: async () => {
            clearErrors(document);
            const r = await api("PATCH", path, { level: Number(select.value) });
            if (!r.ok) return report(document, r);
            setStatus("members-status", `Saved ${m.user.email}'s level.`);
            load();
          },
        }));
      } else {
        levelCell.textContent = names[m.level] || String(m.level);
      }
      if (allowed.remove && !self) {
        actions.append(el("button", {
          type: "button",
          class: "danger",
          text: "Remove",
          "aria-describedby": `who-${m.user.uuid}`,
          onclick: async () => {
            clearErrors(document);
            const r = await api("DELETE", path);
            if (!r.ok) return report(document, r);
            setStatus("members-status", `Removed ${m.user.email}.`);
            load();
          },
        }));
        actions.append(el("span", { id: `who-${m.user.uuid}`, class: "sr-only", text: m.user.email }));
      }
      tr.append(levelCell, el("td", { text: when(m.joined_at), class: "hide-narrow" }), el("td", null, actions));
      return tr;
    }

    async function load() {
      const q = search.value.trim();
      const query = q ? `&search=${encodeURIComponent(q)}` : "";
      const r = await api("GET", `/api/organizations/@current/members/?limit=1000${query}`);
      if (!r.ok) return report(document, r);
      tbody.textContent = "";
      const members = rows(r.data);
      for (const m of members) tbody.append(row(m));
      if (!members.length) setStatus("members-status", "No members match.");
    }

    let timer = null;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(load, 250);
    });
    $("#member-search-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      load();
    });
    await load();
  };

  pages.invites = async () => {
    const names = jsonBlock("level-names");
    const days = jsonBlock("invite-validity-days");
    const form = $("#invite-form");
    const tbody = $("#invites tbody");
    // Levels above the caller's own are refused by the API: not offered.
    me().then((user) => {
      const mine = user.organization ? user.organization.membership_level : 1;
      for (const o of $$("#invite-level option")) if (Number(o.value) > mine) o.remove();
    }).catch(() => {});
    const projects = await projectList();
    const list = $("#invite-project-list");
    for (const p of projects) {
      const box = `invite-project-${p.id}`;
      const level = `invite-project-level-${p.id}`;
      list.append(
        el("div", { class: "check" },
          el("input", { type: "checkbox", id: box, value: String(p.id), name: "private_project_access" }),
          el("label", { for: box, text: p.name }),
          el("label", { for: level, class: "sr-only", text: `Level in ${p.name}` }),
          el("select", { id: level },
            el("option", { value: "member", text: "Member" }),
            el("option", { value: "admin", text: "Admin" })),
        ),
      );
    }
    if (!projects.length) list.append(el("p", { class: "hint", text: "No projects yet." }));

    async function load() {
      const r = await api("GET", "/api/organizations/@current/invites/?limit=1000");
      if (!r.ok) return report(document, r);
      tbody.textContent = "";
      const invites = rows(r.data);
      for (const inv of invites) {
        const by = inv.created_by ? inv.created_by.email : "—";
        const created = new Date(inv.created_at);
        const expires = new Date(created.getTime() + days * 86400000);
        tr(inv, by, inv.is_expired ? `expired ${expires.toLocaleString()}` : expires.toLocaleString());
      }
      if (!invites.length) setStatus("invites-status", "No pending invites.");
      else setStatus("invites-status", "");
    }

    function tr(inv, by, expires) {
      tbody.append(
        el("tr", { "data-email": inv.target_email },
          el("td", { text: inv.target_email }),
          el("td", { text: names[inv.level] || String(inv.level) }),
          el("td", { text: by }),
          el("td", { text: expires }),
          el("td", null, el("button", {
            type: "button",
            class: "danger",
            text: "Revoke",
            "aria-label": `Revoke the invite of ${inv.target_email}`,
            onclick: async () => {
              clearErrors(document);
              const path = `/api/organizations/@current/invites/${encodeURIComponent(inv.id)}/`;
              const r = await api("DELETE", path);
              if (!r.ok) return report(document, r);
              load();
            },
          })),
        ),
      );
    }

    onSubmit(form, async () => {
      const body = {
        target_email: $("#invite-email").value.trim(),
        level: Number($("#invite-level").value),
      };
      const message = $("#invite-message").value;
      if (message.trim()) body.message = message;
      const access = $$('#invite-project-list input[type="checkbox"]:checked').map((c) => ({
        id: Number(c.value),
        level: $(`#invite-project-level-${c.value}`).value,
      }));
      if (access.length) body.private_project_access = access;
      const r = await api("POST", "/api/organizations/@current/invites/", body);
      if (!r.ok) return report(form, r);
      form.reset();
      const result = $("#signup-result");
      if (r.data.signup_url) {
        $("#signup-link").textContent = r.data.signup_url;
        result.querySelector(".copied").textContent = "";
        result.hidden = false;
      }
      load();
    });
    copyButton($("#copy-signup-link"), $("#signup-link"));
    await load();
  };

  pages.keys = async () => {
    const form = $("#key-form");
    const tbody = $("#keys tbody");
    const shown = $("#new-key");
    let user = null;
    try {
      user = await me();
    } catch (r) {
      report(document, r);
    }
    const orgList = $("#key-organization-list");
    for (const o of user ? user.organizations || [] : []) {
      const id = `key-org-${o.id}`;
      orgList.append(el("div", { class: "check" },
        el("input", { type: "checkbox", id, value: o.id, name: "scoped_organizations" }),
        el("label", { for: id, text: o.name })));
    }
    const projectList = $("#key-project-list");
    const teams = user && user.organization ? user.organization.teams || [] : [];
    for (const t of teams) {
      const id = `key-project-${t.id}`;
      projectList.append(el("div", { class: "check" },
        el("input", { type: "checkbox", id, value: String(t.id), name: "scoped_teams" }),
        el("label", { for: id, text: `${t.name} (${user.organization.name})` })));
    }

    function reveal(value) {
      $("#new-key-value").textContent = value;
      shown.querySelector(".copied").textContent = "";
      shown.hidden = false;
      shown.scrollIntoView({ block: "nearest" });
    }

    async function load() {
      const r = await api("GET", "/api/personal_api_keys/");
      if (!r.ok) return report(document, r);
      tbody.textContent = "";
      const keys = rows(r.data);
      for (const k of keys) {
        const path = `/api/personal_api_keys/${encodeURIComponent(k.id)}/`;
        const act = async (method, url) => {
          clearErrors(document);
          const a = await api(method, url);
          if (!a.ok) return report(document, a);
          if (a.data && a.data.value) reveal(a.data.value);
          load();
        };
        tbody.append(
          el("tr", { "data-label": k.label },
            el("td", { text: k.label }),
            el("td", null, el("code", { text: k.mask_value || "—" })),
            el("td", { text: (k.scopes || []).join(", ") }),
            el("td", { text: when(k.last_used_at) }),
            el("td", { text: when(k.created_at) }),
            el("td", null, el("div", { class: "actions" },
              el("button", {
                type: "button",
                text: "Roll",
                "aria-label": `Roll ${k.label}`,
                onclick: () => act("POST", `${path}roll/`),
              }),
              el("button", {
                type: "button",
                class: "danger",
                text: "Delete",
                "aria-label": `Delete ${k.label}`,
                onclick: () => act("DELETE", path),
              }))),
          ),
        );
      }
      setStatus("keys-status", keys.length ? "" : "No keys yet.");
    }

    onSubmit(form, async () => {
      const ticked = (name) => $$(`input[name="${name}"]:checked`, form).map((c) => c.value);
      let scopes = ticked("scopes");
      if (scopes.includes("*")) scopes = ["*"];
      const body = { label: $("#key-label").value.trim(), scopes };
      const orgs = ticked("scoped_organizations");
      const projects = ticked("scoped_teams").map(Number);
      if (orgs.length) body.scoped_organizations = orgs;
      if (projects.length) body.scoped_teams = projects;
      const r = await api("POST", "/api/personal_api_keys/", body);
      if (!r.ok) return report(form, r);
      form.reset();
      reveal(r.data.value);
      load();
    });
    copyButton($("#copy-key"), $("#new-key-value"));
    await load();
  };

  const SWITCHES = ["members_can_invite", "members_can_create_projects", "members_can_use_personal_api_keys"];

  pages.organization = async () => {
    const form = $("#organization-form");
    const dialog = $("#leave-dialog");
    setStatus("organization-status", "Loading…");
    const [r, user] = await Promise.all([api("GET", "/api/organizations/@current/"), me().catch(() => null)]);
    setStatus("organization-status", "");
    if (!r.ok) return report(form, r);
    const fill = (org) => {
      $("#organization-name").value = org.name;
      for (const s of SWITCHES) $(`#${s}`).checked = org[s] !== false;
    };
    fill(r.data);
    if (r.data.membership_level < 8) {
      for (const c of $$("input, button", form)) c.disabled = true;
      setStatus("organization-status", "Only admins and owners can change these settings.");
    }
    onSubmit(form, async () => {
      const body = { name: $("#organization-name").value.trim() };
      for (const s of SWITCHES) body[s] = $(`#${s}`).checked;
      const w = await api("PATCH", "/api/organizations/@current/", body);
      if (!w.ok) return report(form, w);
      fill(w.data);
      setStatus("organization-status", "Saved.");
    });
    $("#leave-organization").addEventListener("click", () => {
      clearErrors(dialog);
      dialog.showModal();
    });
    $("#leave-confirm").addEventListener("click", async () => {
      if (!user) return;
      const path = `/api/organizations/@current/members/${encodeURIComponent(user.uuid)}/`;
      const d = await api("DELETE", path);
      if (d.ok) location.assign("/");
      else report(dialog, d);
    });
  };

  function safeLink(url) {
    return /^https?:\/\//i.test(url || "") ? el("a", { href: url, rel: "noopener noreferrer", text: "Open" }) : "—";
  }

  async function fillTable(id, path, cells) {
    setStatus(`${id}-status`, "Loading…");
    const r = await api("GET", path);
    if (!r.ok) {
      setStatus(`${id}-status`, "");
      return report(document, r);
    }
    const tbody = $(`#${id} tbody`);
    const items = rows(r.data);
    for (const item of items) {
      tbody.append(el("tr", null, ...cells(item).map((c) => (typeof c === "string" ? el("td", { text: c }) : el("td", null, c)))));
    }
    setStatus(`${id}-status`, items.length ? "" : "None yet.");
  }

  pages["legal-documents"] = () =>
    fillTable("legal-documents", "/api/organizations/@current/legal_documents/?limit=1000", (d) => [
      d.document_type,
      d.company_name,
      d.representative_email ? `${d.representative_name} <${d.representative_email}>` : d.representative_name || "—",
      d.status,
      when(d.created_at),
      safeLink(d.signed_document_url),
    ]);

  pages["oauth-applications"] = () =>
    fillTable("oauth-applications", "/api/organizations/@current/oauth_applications/?limit=1000", (a) => [
      a.name,
      el("code", { text: a.client_id }),
      Array.isArray(a.redirect_uris) ? a.redirect_uris.join(" ") : a.redirect_uris || "—",
      when(a.created_at),
    ]);

  if (!ANONYMOUS.includes(page)) initNav();
  if (pages[page]) pages[page]();
})();
