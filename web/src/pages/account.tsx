import { useState } from "preact/hooks";
import { api, currentUser, refreshSession, sessionExpiresAt, setUser } from "../api";
import type { User } from "../api";
import { ErrorBox, Field, fieldError, Notice, Title, useLoad, when } from "../ui";

export function Account() {
  const me = useLoad(() => api<User>("GET", "auth/me").then((r) => (setUser(r.data), r.data)), []);
  const [setup, setSetup] = useState<{ secret: string; otpauth_uri: string } | null>(null);
  const [code, setCode] = useState("");
  const [err, setErr] = useState<unknown>(null);
  const [msg, setMsg] = useState("");
  const u = me.data || currentUser();

  async function act(fn: () => Promise<void>) {
    setErr(null);
    setMsg("");
    try {
      await fn();
    } catch (e) {
      setErr(e);
    }
  }

  return (
    <section>
      <Title text="Account" />
      <ErrorBox error={me.error} />
      {msg && <Notice>{msg}</Notice>}
      {u && (
        <dl class="kv">
          <dt>Email</dt>
          <dd>{u.email}</dd>
          <dt>Display name</dt>
          <dd>{u.display_name || "—"}</dd>
          <dt>Trust</dt>
          <dd>{u.trust_level}</dd>
          <dt>Roles</dt>
          <dd>{u.roles.join(", ")}</dd>
          <dt>Two-factor authentication</dt>
          <dd data-testid="mfa-state">{u.mfa_enabled ? "on" : "off"}</dd>
        </dl>
      )}
      <h2>Session</h2>
      <p>
        The session refreshes itself before its access token expires (now: <span data-testid="session-expiry">{when(new Date(sessionExpiresAt() || 0).toISOString())}</span>).
      </p>
      <button
        type="button"
        onClick={() =>
          act(async () => {
            setMsg((await refreshSession()) ? "Session refreshed." : "The session has ended; sign in again.");
          })
        }
      >
        Refresh session now
      </button>
      <h2>Two-factor authentication</h2>
      {u && !u.mfa_enabled && !setup && (
        <button
          type="button"
          onClick={() =>
            act(async () => {
              const r = await api("POST", "auth/mfa/setup", {});
              setSetup(r.data);
            })
          }
        >
          Set up an authenticator app
        </button>
      )}
      {setup && (
        <form
          class="card"
          onSubmit={(ev) => {
            ev.preventDefault();
            act(async () => {
              await api("POST", "auth/mfa/verify", { code: code.trim() });
              setSetup(null);
              setCode("");
              me.reload();
              setMsg("Two-factor authentication is on.");
            });
          }}
        >
          <p>Add this secret to your authenticator app (or open the link on the phone that has it), then enter the code it shows.</p>
          <p>
            Secret: <code data-testid="mfa-secret">{setup.secret}</code>
          </p>
          <p>
            <a href={setup.otpauth_uri}>Open in authenticator app</a>
          </p>
          <Field label="Code from the app" error={fieldError(err, "code")}>
            {(id, by) => <input id={id} aria-describedby={by} inputMode="numeric" autocomplete="one-time-code" value={code} onInput={(e) => setCode(e.currentTarget.value)} />}
          </Field>
          <button type="submit" class="primary">
            Turn on
          </button>
        </form>
      )}
      {u && u.mfa_enabled && <p>On. To turn it off, use the API (POST /api/v1/auth/mfa/disable with a current code).</p>}
      <ErrorBox error={fieldError(err, "code") ? null : err} />
    </section>
  );
}
