import { useRef, useState, type FormEvent } from 'react';
import { api } from '../api/client';
import { PROJECT_ROLES, type Member, type Project, type ProjectRole } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { SelectField, TextField } from '../components/Form';
import { Icon } from '../components/Icon';
import { Modal } from '../components/Modal';
import { subdomainError } from '../lib/validate';

export function validateMember(kind: string, name: string): string | undefined {
  return subdomainError(kind === 'Team' ? 'team' : 'user', name.trim());
}

const roleText: Record<ProjectRole, string> = {
  'project-admin': 'project-admin: everything, members included',
  'project-member': 'project-member: creates and uses virtual clusters and applications',
  'project-viewer': 'project-viewer: reads only',
};

export function MembersView({ project, onChanged }: { project: Project; onChanged: (p: Project) => void }) {
  const [kind, setKind] = useState<'User' | 'Team'>('User');
  const [name, setName] = useState('');
  const [role, setRole] = useState<ProjectRole>('project-member');
  const [nameError, setNameError] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [removing, setRemoving] = useState<Member>();
  const nameRef = useRef<HTMLInputElement>(null);

  const add = async (e: FormEvent) => {
    e.preventDefault();
    const v = validateMember(kind, name);
    setNameError(v);
    if (v) return nameRef.current?.focus();
    setBusy(true);
    setError(undefined);
    try {
      onChanged(await api.addMember(project.name, { kind, name: name.trim(), role }));
      setName('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="members">
      <ErrorBanner error={error} title="Refused" />
      {project.members.length === 0 ? (
        <p className="muted">No members yet: only administrators can use this project.</p>
      ) : (
        <div className="table-wrap">
          <table className="apps-table" aria-label="Members">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Role</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {project.members.map((m) => (
                <tr key={m.kind + '/' + m.name} data-member={m.name}>
                  <th scope="row">{m.name}</th>
                  <td>{m.kind}</td>
                  <td>{m.role}</td>
                  <td>
                    <button
                      type="button"
                      className="btn btn-small btn-danger-outline"
                      aria-label={`Remove ${m.kind.toLowerCase()} ${m.name}`}
                      onClick={() => setRemoving(m)}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form className="inline-form card" onSubmit={add} noValidate aria-labelledby="add-member-title">
        <h2 id="add-member-title" className="subhead">
          Add a member
        </h2>
        <div className="form-row">
          <SelectField id="member-kind" label="Kind" value={kind} onChange={(e) => setKind(e.target.value as 'User' | 'Team')}>
            <option value="User">User</option>
            <option value="Team">Team</option>
          </SelectField>
          <TextField id="member-name" label={kind === 'Team' ? 'Team' : 'User'} ref={nameRef} value={name} onChange={(e) => setName(e.target.value)} error={nameError} />
          <SelectField id="member-role" label="Role" value={role} onChange={(e) => setRole(e.target.value as ProjectRole)}>
            {PROJECT_ROLES.map((r) => (
              <option key={r} value={r}>
                {roleText[r]}
              </option>
            ))}
          </SelectField>
        </div>
        <button type="submit" className="btn btn-primary" disabled={busy}>
          <Icon name="plus" /> {busy ? 'Adding…' : 'Add member'}
        </button>
      </form>
      {removing && (
        <RemoveMemberDialog
          project={project}
          member={removing}
          onClose={() => setRemoving(undefined)}
          onDone={(p) => {
            setRemoving(undefined);
            onChanged(p);
          }}
        />
      )}
    </div>
  );
}

function RemoveMemberDialog({
  project,
  member,
  onClose,
  onDone,
}: {
  project: Project;
  member: Member;
  onClose: () => void;
  onDone: (p: Project) => void;
}) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const remove = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onDone(await api.removeMember(project.name, member.kind, member.name));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Modal title={`Remove ${member.name} from ${project.name}?`} onClose={onClose} busy={busy}>
      <form onSubmit={remove} noValidate>
        <ErrorBanner error={error} title="Refused" />
        <p>
          {member.kind} {member.name} loses the role {member.role} in this project.
        </p>
        <div className="modal-footer">
          <button type="button" className="btn" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="btn btn-danger" disabled={busy} data-autofocus>
            {busy ? 'Removing…' : 'Remove'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
