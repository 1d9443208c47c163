// Form fields with their label, help and error tied together for assistive technology.
import { forwardRef, useState, type FormEvent, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes } from 'react';
import { ErrorBanner } from './ErrorBanner';
import { Modal } from './Modal';

interface FieldProps {
  id: string;
  label: ReactNode;
  error?: string;
  help?: ReactNode;
}

export const TextField = forwardRef<HTMLInputElement, FieldProps & InputHTMLAttributes<HTMLInputElement>>(function TextField(
  { id, label, error, help, ...input },
  ref,
) {
  const described = error ? `${id}-error` : help ? `${id}-help` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} ref={ref} aria-invalid={!!error} aria-describedby={described} autoComplete="off" {...input} />
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : (
        help && (
          <p className="field-help" id={`${id}-help`}>
            {help}
          </p>
        )
      )}
    </div>
  );
});

export function TextArea({
  id,
  label,
  error,
  help,
  ...input
}: FieldProps & React.TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const described = error ? `${id}-error` : help ? `${id}-help` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} aria-invalid={!!error} aria-describedby={described} {...input} />
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : (
        help && (
          <p className="field-help" id={`${id}-help`}>
            {help}
          </p>
        )
      )}
    </div>
  );
}

export function SelectField({
  id,
  label,
  error,
  help,
  children,
  ...select
}: FieldProps & SelectHTMLAttributes<HTMLSelectElement> & { children: ReactNode }) {
  const described = error ? `${id}-error` : help ? `${id}-help` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} aria-invalid={!!error} aria-describedby={described} {...select}>
        {children}
      </select>
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : (
        help && (
          <p className="field-help" id={`${id}-help`}>
            {help}
          </p>
        )
      )}
    </div>
  );
}

/** An on/off switch: a checkbox with role="switch" (Space toggles it). */
export function Switch({
  id,
  label,
  checked,
  onChange,
  help,
  disabled,
}: {
  id: string;
  label: ReactNode;
  checked: boolean;
  onChange: (v: boolean) => void;
  help?: ReactNode;
  disabled?: boolean;
}) {
  return (
    <div className="switch-field">
      <label className="switch" htmlFor={id}>
        <input
          id={id}
          type="checkbox"
          role="switch"
          checked={checked}
          disabled={disabled}
          aria-checked={checked}
          aria-describedby={help ? `${id}-help` : undefined}
          onChange={(e) => onChange(e.target.checked)}
        />
        <span className="switch-track" aria-hidden="true">
          <span className="switch-thumb" />
        </span>
        <span className="switch-label">{label}</span>
      </label>
      {help && (
        <p className="field-help" id={`${id}-help`}>
          {help}
        </p>
      )}
    </div>
  );
}

/** A delete confirmed by typing the name; errors from the server are shown in it. */
export function ConfirmDeleteDialog({
  what,
  name,
  children,
  onClose,
  onConfirm,
}: {
  what: string;
  name: string;
  children?: ReactNode;
  onClose: () => void;
  onConfirm: () => Promise<void>;
}) {
  const [typed, setTyped] = useState('');
  const [typedError, setTypedError] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (typed !== name) {
      setTypedError(`Type ${name} to confirm.`);
      return;
    }
    setTypedError(undefined);
    setError(undefined);
    setBusy(true);
    try {
      await onConfirm();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Modal title={`Delete ${what} ${name}?`} onClose={onClose} busy={busy}>
      <form onSubmit={submit} noValidate>
        <ErrorBanner error={error} title="Delete refused" />
        {children}
        <TextField
          id="delete-confirm"
          label={
            <>
              Type <strong>{name}</strong> to confirm
            </>
          }
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
          error={typedError}
          data-autofocus
        />
        <div className="modal-footer">
          <button type="button" className="btn" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="btn btn-danger" disabled={busy}>
            {busy ? 'Deleting…' : 'Delete'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
