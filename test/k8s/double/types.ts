/** Shared shapes of the API double: objects, resource types and API errors (Status objects). */

// Objects are untyped JSON on purpose: the double serves arbitrary kinds, like the real server.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KObject = Record<string, any>;

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  format?: string;
  priority?: number;
}

/** One served resource (a group + plural), with what discovery, validation and tables need. */
export interface ResourceType {
  group: string;
  /** Served versions, the storage version first. */
  versions: string[];
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  statusSubresource: boolean;
  /** Custom resources refuse strategic merge patches (415), as the real server does. */
  custom: boolean;
  /** openAPIV3Schema per version (custom resources). */
  schemas?: Record<string, unknown>;
  printerColumns?: Record<string, PrinterColumn[]>;
  /** Name of the CRD that defines it. */
  crdName?: string;
}

export const resourceKey = (group: string, plural: string): string => `${group}/${plural}`;

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

/** An error answered as a metav1.Status with the matching HTTP code. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number },
  ) {
    super(message);
  }

  toStatus(): KObject {
    return statusObject(this.code, this.reason, this.message, this.details);
  }
}

export function statusObject(code: number, reason: string, message: string, details?: KObject): KObject {
  const s: KObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: code < 400 ? 'Success' : 'Failure', message, reason, code };
  if (details) s.details = details;
  return s;
}

/** "backfills.orrery.dev" or "pods" — how the real server names a resource in messages. */
export function qualifiedResource(rt: ResourceType): string {
  return rt.group ? `${rt.plural}.${rt.group}` : rt.plural;
}

export function notFound(rt: ResourceType, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualifiedResource(rt)} "${name}" not found`, { name, group: rt.group, kind: rt.plural });
}

export function conflict(rt: ResourceType, name: string): ApiError {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(rt)} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: rt.group, kind: rt.plural });
}

export function alreadyExists(rt: ResourceType, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualifiedResource(rt)} "${name}" already exists`, { name, group: rt.group, kind: rt.plural });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

/** 422 Invalid in the real server's wording: `Kind.group "name" is invalid: field: message`. */
export function invalid(rt: ResourceType, name: string, causes: StatusCause[]): ApiError {
  const kindGroup = rt.group ? `${rt.kind}.${rt.group}` : rt.kind;
  const parts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const body = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  return new ApiError(422, 'Invalid', `${kindGroup} "${name}" is invalid: ${body}`, {
    name,
    group: rt.group,
    kind: rt.kind,
    causes: causes.map((c) => ({ reason: c.reason ?? 'FieldValueInvalid', message: c.message, field: c.field })),
  });
}

export const clone = <T>(v: T): T => (v === undefined ? v : structuredClone(v));
