import type { ComponentChildren } from 'preact';
import { useId, useState } from 'preact/hooks';
import { errorMessage } from './api';
import { formatTime } from './format';
import { useAction } from './hooks';

/** Shows a failure's message (the service's own words) where screen readers announce it. */
export function ErrorAlert({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p role="alert" class="alert">
      {errorMessage(error)}
    </p>
  );
}

/** A polite confirmation of what just happened. */
export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <p role="status" class="notice">
      {children}
    </p>
  );
}

/** An instant in local time, with the exact ISO value kept machine-readable. */
export function Time({ iso }: { iso: string }) {
  if (!iso) return <span>—</span>;
  return (
    <time dateTime={iso} title={iso}>
      {formatTime(iso)}
    </time>
  );
}

interface TextFieldProps {
  label: string;
  value: string;
  onValue?: (value: string) => void;
  type?: 'text' | 'email' | 'tel' | 'number' | 'datetime-local' | 'search';
  readOnly?: boolean;
  placeholder?: string;
  autoComplete?: string;
  inputMode?: 'numeric' | 'text' | 'tel' | 'email';
  min?: number;
  max?: number;
  maxLength?: number;
  hint?: string;
  name?: string;
}

/** A labelled input: every field has its own <label for>, so it is found by its name. */
export function TextField(props: TextFieldProps) {
  const id = useId();
  const hintId = `${id}-hint`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        // Preact types <input> per `type` literal; a union-typed prop needs this narrowing.
        type={(props.type ?? 'text') as 'text'}
        value={props.value}
        readOnly={props.readOnly}
        placeholder={props.placeholder}
        autoComplete={props.autoComplete ?? 'off'}
        inputMode={props.inputMode}
        min={props.min}
        max={props.max}
        maxLength={props.maxLength}
        aria-describedby={props.hint ? hintId : undefined}
        onInput={(event) => props.onValue?.(event.currentTarget.value)}
        onFocus={props.readOnly ? (event) => event.currentTarget.select() : undefined}
      />
      {props.hint && (
        <small id={hintId} class="hint">
          {props.hint}
        </small>
      )}
    </div>
  );
}

/** A labelled multi-line field (justifications, reasons). */
export function TextArea(props: { label: string; value: string; onValue: (value: string) => void; rows?: number }) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <textarea
        id={id}
        rows={props.rows ?? 3}
        value={props.value}
        onInput={(event) => props.onValue(event.currentTarget.value)}
      />
    </div>
  );
}

/** A labelled select from fixed [value, text] pairs. */
export function SelectField<V extends string>(props: {
  label: string;
  value: V;
  options: ReadonlyArray<readonly [V, string]>;
  onValue: (value: V) => void;
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select id={id} value={props.value} onChange={(event) => props.onValue(event.currentTarget.value as V)}>
        {props.options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A labelled checkbox or radio button: the input first, its own <label for> after it. */
function ChoiceField(props: {
  type: 'checkbox' | 'radio';
  label: string;
  checked: boolean;
  name?: string;
  value?: string;
  onChange: (checked: boolean) => void;
}) {
  const id = useId();
  return (
    <div class="check">
      <input
        id={id}
        type={props.type}
        name={props.name}
        value={props.value}
        checked={props.checked}
        onChange={(event) => props.onChange(event.currentTarget.checked)}
      />
      <label for={id}>{props.label}</label>
    </div>
  );
}

/** A labelled checkbox. */
export function CheckboxField(props: { label: string; checked: boolean; onChecked: (checked: boolean) => void }) {
  return <ChoiceField type="checkbox" label={props.label} checked={props.checked} onChange={props.onChecked} />;
}

/** A labelled radio button of the group `name`; choosing it picks its `value`. */
export function RadioField<V extends string>(props: {
  name: string;
  value: V;
  label: string;
  checked: boolean;
  onPick: (value: V) => void;
}) {
  return (
    <ChoiceField
      type="radio"
      name={props.name}
      value={props.value}
      label={props.label}
      checked={props.checked}
      onChange={() => props.onPick(props.value)}
    />
  );
}

/** A one-field form: the field's props, the submit button's text, whether it is busy, and what submitting does. */
export type OneFieldFormProps = TextFieldProps & { submit: string; busy: boolean; onSubmit: () => void };

/**
 * A form of one labelled field and its submit button (a code, a note); `onSubmit` runs without
 * the page reloading.
 */
export function OneFieldForm(props: OneFieldFormProps) {
  const { submit, busy, onSubmit, ...field } = props;
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        onSubmit();
      }}
    >
      <TextField {...field} />
      <button type="submit" disabled={busy}>
        {submit}
      </button>
    </form>
  );
}

/**
 * A note and the button that sends it (unlock, lift, acknowledge): `send` gets the note, and a
 * failure's message shows under the form. `open` false hides the form; a failure's message stays.
 */
export function NoteForm(props: {
  label: string;
  submit: string;
  open?: boolean;
  send: (note: string) => Promise<void>;
}) {
  const action = useAction();
  const [note, setNote] = useState('');
  return (
    <>
      {props.open !== false && (
        <OneFieldForm
          label={props.label}
          value={note}
          onValue={setNote}
          submit={props.submit}
          busy={action.busy}
          onSubmit={() => void action.run(() => props.send(note))}
        />
      )}
      <ErrorAlert error={action.error} />
    </>
  );
}

/** A form's submit button (`danger` for one that removes) and its Cancel button, side by side. */
export function SubmitOrCancel(props: { submit: string; busy: boolean; danger?: boolean; onCancel: () => void }) {
  return (
    <div class="button-row">
      <button type="submit" class={props.danger ? 'danger' : undefined} disabled={props.busy}>
        {props.submit}
      </button>
      <button type="button" class="secondary" onClick={props.onCancel}>
        Cancel
      </button>
    </div>
  );
}

/** A page section whose heading names its landmark region. */
export function Section(props: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  const id = useId();
  return (
    <section class="card" aria-labelledby={id}>
      <div class="section-head">
        <h2 id={id}>{props.title}</h2>
        {props.actions}
      </div>
      {props.children}
    </section>
  );
}

/** A part of a section under its own h3 heading, with the same head row as a section. */
export function Subsection(props: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <div class="subsection">
      <div class="section-head">
        <h3>{props.title}</h3>
        {props.actions}
      </div>
      {props.children}
    </div>
  );
}

/** The small "Refresh" button of a section's head; `label` names what it loads again. */
export function RefreshButton(props: { label: string; onRefresh: () => void }) {
  return (
    <button type="button" class="secondary small" aria-label={props.label} onClick={() => props.onRefresh()}>
      Refresh
    </button>
  );
}

/** "Loading…" while the first answer is on its way. */
export function Loading({ when }: { when: boolean }) {
  return when ? <p class="muted">Loading…</p> : null;
}

/** The page's h1; focusable from script so a page change moves focus to it. */
export function PageTitle({ children }: { children: ComponentChildren }) {
  return (
    <h1 tabIndex={-1} class="page-title">
      {children}
    </h1>
  );
}
