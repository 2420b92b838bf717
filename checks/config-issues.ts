/**
 * zod issues → config problems with `CORE_CONFIG_*` ids, for the files `checks/` validates.
 *
 * "Missing" is decided by looking the issue's path up in the document: zod 4 issues carry no
 * `input` unless asked (`reportInput`), so `issue.input === undefined` cannot tell a missing key
 * from a value of the wrong type.
 */
import type { ZodError } from 'zod';
import type { ConfigProblem } from '../core/config/loader.ts';
import { ErrorIds } from '../core/errors.ts';

function has(doc: unknown, path: readonly PropertyKey[]): boolean {
  let cur: unknown = doc;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, k as string)) return false;
    cur = (cur as Record<string, unknown>)[k as string];
  }
  return cur !== undefined;
}

export function issuesToProblems(error: ZodError, doc: unknown, file: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of error.issues) {
    const path = issue.path.join('.') || '(root)';
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) problems.push({ file, path: path === '(root)' ? k : `${path}.${k}`, errorId: ErrorIds.CONFIG_UNKNOWN, message: 'unknown key' });
    } else if (issue.code === 'invalid_type' && issue.path.length > 0 && !has(doc, issue.path)) {
      problems.push({ file, path, errorId: ErrorIds.CONFIG_MISSING, message: 'required key is missing' });
    } else {
      problems.push({ file, path, errorId: ErrorIds.CONFIG_INVALID, message: issue.message });
    }
  }
  return problems;
}
