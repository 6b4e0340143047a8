// Progress of a long run with its Cancel button (sweeps, Verify top K): `{id}.progress` and `{id}.cancel` test ids.
export function Progress({ id, label, done, total, onCancel }: { id: string; label: string; done: number; total: number; onCancel: () => void }) {
  return (
    <span className="pw-sweep" role="status" data-testid={`${id}.progress`}>
      <progress max={total} value={done} aria-label={label} />
      <span>{done} / {total}</span>
      <button type="button" className="pw-small" onClick={onCancel} data-testid={`${id}.cancel`}>Cancel</button>
    </span>
  );
}
