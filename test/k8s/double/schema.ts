/** Structural OpenAPI v3 handling of custom resources, as the real server does it:
 * defaulting, pruning of unknown fields, validation (messages name the field path), and the
 * CEL rules of `x-kubernetes-validations` that cel.ts understands. */
import { CelUnsupported, evalRule } from './cel.ts';
import { clone, type KObject, type StatusCause } from './types.ts';

type Schema = KObject;
const isObj = (v: unknown): v is KObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function show(v: unknown): string {
  if (isObj(v)) return '"object"';
  if (Array.isArray(v)) return JSON.stringify(v);
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** Fills `default`s of absent properties (recursively, inside objects that exist). */
export function applyDefaults(schema: Schema | undefined, value: unknown): unknown {
  if (!schema) return value;
  if (isObj(value)) {
    const props: Record<string, Schema> = schema.properties ?? {};
    for (const [k, s] of Object.entries(props)) {
      if (value[k] === undefined && s.default !== undefined) value[k] = clone(s.default);
      if (value[k] !== undefined) value[k] = applyDefaults(s, value[k]);
    }
    if (isObj(schema.additionalProperties)) for (const k of Object.keys(value)) if (!(k in props)) value[k] = applyDefaults(schema.additionalProperties, value[k]);
  } else if (Array.isArray(value) && schema.items) {
    return value.map((x) => applyDefaults(schema.items, x));
  }
  return value;
}

/** Drops fields the schema does not declare; returns their paths (for fieldValidation). */
export function prune(schema: Schema | undefined, value: unknown, path = '', root = true): string[] {
  if (!schema || schema['x-kubernetes-preserve-unknown-fields'] === true && !schema.properties) return [];
  const unknown: string[] = [];
  if (isObj(value)) {
    const props: Record<string, Schema> = schema.properties ?? {};
    const extra = schema.additionalProperties;
    for (const k of Object.keys(value)) {
      if (root && (k === 'apiVersion' || k === 'kind' || k === 'metadata')) continue;
      if (k in props) unknown.push(...prune(props[k], value[k], join(path, k), false));
      else if (isObj(extra)) unknown.push(...prune(extra, value[k], join(path, k), false));
      else if (extra === true || schema['x-kubernetes-preserve-unknown-fields'] === true) continue;
      else {
        unknown.push(join(path, k));
        delete value[k];
      }
    }
  } else if (Array.isArray(value) && schema.items) {
    value.forEach((x, i) => unknown.push(...prune(schema.items, x, `${path}[${i}]`, false)));
  }
  return unknown;
}

function typeOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'object':
      return isObj(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    default:
      return true;
  }
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v === 'object' ? 'object' : typeof v;
}

/** Validation errors of `value` at `path` (empty when valid). */
export function validate(schema: Schema | undefined, value: unknown, path = '', oldValue?: unknown): StatusCause[] {
  if (!schema) return [];
  const errs: StatusCause[] = [];
  const bad = (message: string, reason = 'FieldValueInvalid', field = path): void => {
    errs.push({ reason, field, message });
  };
  if (value === null) {
    if (!schema.nullable) bad(`Invalid value: "null": must be of type ${schema.type ?? 'object'}`, 'FieldValueTypeInvalid');
    return errs;
  }
  if (schema['x-kubernetes-int-or-string']) {
    if (!(typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)))) bad(`Invalid value: ${show(value)}: must be of type int-or-string`, 'FieldValueTypeInvalid');
  } else if (schema.type && !typeOk(schema.type, value)) {
    bad(`Invalid value: "${typeName(value)}": must be of type ${schema.type}`, 'FieldValueTypeInvalid');
    return errs;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(value))) {
    bad(`Unsupported value: ${show(value)}: supported values: ${schema.enum.map((e: unknown) => JSON.stringify(e)).join(', ')}`, 'FieldValueNotSupported');
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum)) {
      bad(`Invalid value: ${value}: should be greater than ${schema.exclusiveMinimum ? '' : 'or equal to '}${schema.minimum}`);
    }
    if (schema.maximum !== undefined && (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum)) {
      bad(`Invalid value: ${value}: should be less than ${schema.exclusiveMaximum ? '' : 'or equal to '}${schema.maximum}`);
    }
    if (schema.multipleOf && value % schema.multipleOf !== 0) bad(`Invalid value: ${value}: should be a multiple of ${schema.multipleOf}`);
  }
  if (typeof value === 'string') {
    if (schema.maxLength !== undefined && value.length > schema.maxLength) bad(`Too long: may not be more than ${schema.maxLength} bytes`, 'FieldValueTooLong');
    if (schema.minLength !== undefined && value.length < schema.minLength) bad(`Invalid value: ${show(value)}: should be at least ${schema.minLength} chars long`);
    if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value)) bad(`Invalid value: ${show(value)}: should match '${schema.pattern}'`);
    if (schema.format === 'date-time' && Number.isNaN(Date.parse(value))) bad(`Invalid value: ${show(value)}: must be a date-time`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) bad(`Invalid value: ${value.length}: should have at least ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) bad(`Too many: ${value.length}: must have at most ${schema.maxItems} items`, 'FieldValueTooMany');
    if (schema.items) value.forEach((x, i) => errs.push(...validate(schema.items, x, `${path}[${i}]`)));
  }
  if (isObj(value)) {
    const props: Record<string, Schema> = schema.properties ?? {};
    for (const req of (schema.required ?? []) as string[]) if (value[req] === undefined) bad('Required value', 'FieldValueRequired', join(path, req));
    const oldObj = isObj(oldValue) ? oldValue : undefined;
    for (const [k, v] of Object.entries(value)) {
      if (k in props) errs.push(...validate(props[k], v, join(path, k), oldObj?.[k]));
      else if (isObj(schema.additionalProperties)) errs.push(...validate(schema.additionalProperties, v, join(path, k), oldObj?.[k]));
    }
    const n = Object.keys(value).length;
    if (schema.maxProperties !== undefined && n > schema.maxProperties) bad(`Too many: ${n}: must have at most ${schema.maxProperties} items`, 'FieldValueTooMany');
    if (schema.minProperties !== undefined && n < schema.minProperties) bad(`Invalid value: ${n}: should have at least ${schema.minProperties} properties`);
  }
  for (const sub of (schema.allOf ?? []) as Schema[]) errs.push(...validate(sub, value, path));
  // CEL rules run alongside the structural checks (a value of the wrong type returned above).
  {
    for (const rule of (schema['x-kubernetes-validations'] ?? []) as KObject[]) {
      let ok: boolean;
      try {
        if (String(rule.rule).includes('oldSelf') && oldValue === undefined) continue; // transition rules need an old object
        ok = evalRule(String(rule.rule), value, oldValue);
      } catch (e) {
        if (e instanceof CelUnsupported) continue; // outside the subset: skipped, not guessed
        throw e;
      }
      if (!ok) {
        const field = rule.fieldPath ? path + String(rule.fieldPath) : path;
        bad(`Invalid value: ${show(value)}: ${rule.message ?? `failed rule: ${rule.rule}`}`, rule.reason ?? 'FieldValueInvalid', field);
      }
    }
  }
  return errs;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function validateName(name: unknown): StatusCause[] {
  if (typeof name !== 'string' || name === '') return [{ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' }];
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    return [{
      field: 'metadata.name',
      message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    }];
  }
  return [];
}
