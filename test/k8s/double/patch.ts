/** Patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902), a strategic merge patch
 * for built-in kinds (lists of named items merge by `name`), and server-side apply as a merge. */
import { ApiError, clone, type KObject } from './types.ts';

const isObj = (v: unknown): v is KObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const out: KObject = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function unescapePointer(seg: string): string {
  return seg.replace(/~1/g, '/').replace(/~0/g, '~');
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new ApiError(422, 'Invalid', `invalid JSON pointer: ${path}`);
  return path.slice(1).split('/').map(unescapePointer);
}

function parentOf(doc: unknown, segs: string[], path: string): { parent: KObject | unknown[]; key: string } {
  let cur: unknown = doc;
  for (const s of segs.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(s)];
    else if (isObj(cur)) cur = cur[s];
    else cur = undefined;
    if (cur === undefined) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: doc is missing path: "${path}"`);
  }
  if (!isObj(cur) && !Array.isArray(cur)) throw new ApiError(422, 'Invalid', `doc is missing path: "${path}"`);
  return { parent: cur, key: segs[segs.length - 1] };
}

function getAt(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const s of pointer(path)) {
    if (Array.isArray(cur)) cur = cur[Number(s)];
    else if (isObj(cur)) cur = cur[s];
    else return undefined;
  }
  return cur;
}

function arrayIndex(arr: unknown[], key: string, forInsert: boolean, path: string): number {
  if (key === '-' && forInsert) return arr.length;
  const i = Number(key);
  if (!/^\d+$/.test(key) || i > arr.length || (!forInsert && i >= arr.length)) {
    throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: index out of range: ${path}`);
  }
  return i;
}

function removeAt(doc: unknown, path: string): unknown {
  const { parent, key } = parentOf(doc, pointer(path), path);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, false, path), 1)[0];
  if (!(key in parent)) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: Unable to remove nonexistent key: ${key}: missing value`);
  const v = parent[key];
  delete parent[key];
  return v;
}

function addAt(doc: unknown, path: string, value: unknown): unknown {
  const segs = pointer(path);
  if (segs.length === 0) return clone(value);
  const { parent, key } = parentOf(doc, segs, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true, path), 0, clone(value));
  else parent[key] = clone(value);
  return doc;
}

const deepEqual = (a: unknown, b: unknown): boolean => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (isObj(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}
export { deepEqual };

export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new ApiError(400, 'BadRequest', 'json patch must be an array of operations');
  let doc = clone(target);
  for (const op of ops as KObject[]) {
    const path = String(op.path ?? '');
    switch (op.op) {
      case 'add':
        doc = addAt(doc, path, op.value);
        break;
      case 'remove':
        removeAt(doc, path);
        break;
      case 'replace': {
        if (getAt(doc, path) === undefined) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: replace operation does not apply: doc is missing key: ${path}: missing value`);
        if (pointer(path).length === 0) doc = clone(op.value);
        else {
          removeAt(doc, path);
          doc = addAt(doc, path, op.value);
        }
        break;
      }
      case 'move': {
        const v = removeAt(doc, String(op.from));
        doc = addAt(doc, path, v);
        break;
      }
      case 'copy':
        doc = addAt(doc, path, getAt(doc, String(op.from)));
        break;
      case 'test':
        if (!deepEqual(getAt(doc, path), op.value)) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: testing value ${path} failed: test failed`);
        break;
      default:
        throw new ApiError(400, 'BadRequest', `Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
}

/** Strategic merge: like merge patch, but lists of objects that all carry `name` merge item-wise. */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _p, ...rest } = patch;
    return stripDirectives(rest);
  }
  const out: KObject = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$setElementOrder/') || k === '$retainKeys' || k === '$patch') continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[field]) && Array.isArray(v)) out[field] = out[field].filter((x: unknown) => !v.includes(x));
      continue;
    }
    if (v === null) delete out[k];
    else if (Array.isArray(v) && Array.isArray(out[k]) && isNamedList(v) && isNamedList(out[k])) out[k] = mergeNamedList(out[k], v);
    else if (isObj(v)) out[k] = strategicMergePatch(out[k], v);
    else out[k] = clone(v);
  }
  return out;
}

const isNamedList = (a: unknown[]): boolean => a.every((x) => isObj(x) && typeof x.name === 'string');

function mergeNamedList(cur: KObject[], patch: KObject[]): KObject[] {
  const out = cur.map((x) => ({ ...x }));
  for (const item of patch) {
    const i = out.findIndex((x) => x.name === item.name);
    if (item.$patch === 'delete') {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) out[i] = strategicMergePatch(out[i], item) as KObject;
    else out.push(stripDirectives(item) as KObject);
  }
  return out;
}

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObj(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith('$')).map(([k, x]) => [k, stripDirectives(x)]));
}

/** Server-side apply, simplified: the applied configuration merged over the live object.
 * (No managed-fields ownership: fields the manager dropped from its config are not removed.) */
export function applyPatch(target: unknown, applied: unknown): unknown {
  if (!isObj(applied)) return clone(applied);
  const out: KObject = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(applied)) {
    if (v === null) delete out[k];
    else if (Array.isArray(v) && Array.isArray(out[k]) && isNamedList(v) && isNamedList(out[k])) out[k] = mergeNamedList(out[k], v);
    else if (isObj(v)) out[k] = applyPatch(out[k], v);
    else out[k] = clone(v);
  }
  return out;
}
