import { useState } from "preact/hooks";
import { login } from "../api";
import { navigate } from "../router";
import { ErrorBox, Field, fieldError, Title } from "../ui";

export function Login({ next }: { next: string | null }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(ev: Event) {
    ev.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      // The server answers every failure the same way (a wrong password and a missing code are
      // indistinguishable, docs/security.md), so the code is asked for up front, optionally.
      await login(email.trim(), password, code.trim() || undefined);
      const dest = next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : "/capsules";
      navigate(dest, true);
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="login">
      <form onSubmit={submit} class="card narrow" aria-describedby="login-help">
        <Title text="Sign in to Forge" />
        <p id="login-help" class="muted">
          Your organisation's memory: capsules, their lineage, and the votes that govern them.
        </p>
        <ErrorBox error={fieldError(err, "email", "password", "mfa_code") ? null : err} />
        <Field label="Email" error={fieldError(err, "email")}>
          {(id, by) => (
            <input id={id} aria-describedby={by} type="email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          )}
        </Field>
        <Field label="Password" error={fieldError(err, "password")}>
          {(id, by) => (
            <input id={id} aria-describedby={by} type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          )}
        </Field>
        {(
          <div class="field">
            <label for="mfa-code">Authentication code</label>
            <input
              id="mfa-code"
              inputMode="numeric"
              autocomplete="one-time-code"
              pattern="[0-9]{6}"
              maxLength={6}
              aria-describedby="mfa-hint"
              value={code}
              onInput={(e) => setCode(e.currentTarget.value)}
            />
            <div class="hint" id="mfa-hint">
              Only if your account uses two-factor authentication: the 6-digit code from your authenticator app.
            </div>
          </div>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
