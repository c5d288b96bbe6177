import { type FormEvent, useId, useState } from "react";
import { type ConnectionSettings, initialUrls, normalizeServiceUrl } from "./settings";

/**
 * Asks for the admin token and where the two services are. Nothing is called here: the first view
 * shows what the services think of the token, in words (refused, not allowed, unreachable).
 */
export function SignIn({ onSignIn }: { onSignIn: (settings: ConnectionSettings) => void }) {
  const [urls] = useState(initialUrls);
  const [problems, setProblems] = useState<string[]>([]);
  const ids = { token: useId(), registry: useId(), sequence: useId(), problems: useId() };

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const token = String(form.get("token") ?? "").trim();
    const registry = normalizeServiceUrl(String(form.get("registry") ?? ""));
    const sequence = normalizeServiceUrl(String(form.get("sequence") ?? ""));
    const found = [
      ...(token === "" ? ["Admin token: enter the token your operators' secret store holds"] : []),
      ...("problem" in registry ? [`Registry URL ${registry.problem}`] : []),
      ...("problem" in sequence ? [`Sequence URL ${sequence.problem}`] : []),
    ];
    setProblems(found);
    if (found.length === 0 && "url" in registry && "url" in sequence) {
      onSignIn({ token, registryUrl: registry.url, sequenceUrl: sequence.url });
    }
  }

  return (
    <main id="main" className="sign-in">
      <h1>im-core admin</h1>
      <p>Sign in with an admin token. It is kept for this tab only and forgotten when the tab closes.</p>
      <form onSubmit={submit} noValidate aria-describedby={problems.length ? ids.problems : undefined}>
        <label htmlFor={ids.token}>Admin token</label>
        <input id={ids.token} name="token" type="password" autoComplete="off" required />
        <label htmlFor={ids.registry}>Registry URL</label>
        <input id={ids.registry} name="registry" type="url" defaultValue={urls.registryUrl} required />
        <label htmlFor={ids.sequence}>Sequence URL</label>
        <input id={ids.sequence} name="sequence" type="url" defaultValue={urls.sequenceUrl} required />
        {problems.length > 0 && (
          <ul id={ids.problems} className="notice notice-error" role="alert">
            {problems.map((problem) => (
              <li key={problem}>{problem}</li>
            ))}
          </ul>
        )}
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
