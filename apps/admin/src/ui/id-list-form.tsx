import { type FormEvent, useId } from "react";
import { parseIdList } from "./format";

/** A one-field form for user ids (commas, spaces or new lines between them), used by several views. */
export function IdListForm({
  label,
  submitLabel,
  initial,
  hint,
  onSubmit,
}: {
  label: string;
  submitLabel: string;
  initial: readonly string[];
  hint: string;
  onSubmit: (ids: string[]) => void;
}) {
  const ids = { input: useId(), hint: useId() };
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    onSubmit(parseIdList(String(new FormData(event.currentTarget).get("ids") ?? "")));
  };
  return (
    <form className="inline-form" onSubmit={submit}>
      <label htmlFor={ids.input}>{label}</label>
      <input
        id={ids.input}
        name="ids"
        defaultValue={initial.join(", ")}
        aria-describedby={ids.hint}
        autoComplete="off"
        spellCheck={false}
      />
      <button type="submit">{submitLabel}</button>
      <p id={ids.hint} className="hint">
        {hint}
      </p>
    </form>
  );
}
