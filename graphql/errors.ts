/** Error ids of the API (`API_{CATEGORY}_{CODE}`), and the mapping of any error to a GraphQL error. */
import { GraphQLError } from 'graphql';
import { OrreryError } from '../core/errors.ts';

export const ApiErrorIds = {
  UNAUTHENTICATED: 'API_AUTH_UNAUTHENTICATED',
  FORBIDDEN: 'API_AUTH_FORBIDDEN',
  INPUT_INVALID: 'API_INPUT_INVALID',
  CURSOR_INVALID: 'API_INPUT_CURSOR',
  LIMIT_DEPTH: 'API_LIMIT_DEPTH',
  LIMIT_COMPLEXITY: 'API_LIMIT_COMPLEXITY',
  LIMIT_BREADTH: 'API_LIMIT_BREADTH',
  LIMIT_ALIASES: 'API_LIMIT_ALIASES',
  LIMIT_PAGE: 'API_LIMIT_PAGE',
  LIMIT_BATCH: 'API_LIMIT_BATCH',
  LIMIT_SIZE: 'API_LIMIT_SIZE',
  QUERY_INVALID: 'API_QUERY_INVALID',
  INTROSPECTION_DISABLED: 'API_QUERY_INTROSPECTION',
  SENSOR_UNKNOWN: 'API_SENSOR_UNKNOWN',
  RUN_KIND: 'API_RUN_NOTBACKFILL',
  INTERNAL: 'API_INTERNAL_ERROR',
} as const;

export function apiError(code: string, message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extra } });
}

export function inputError(message: string, details: Record<string, unknown> = {}): OrreryError {
  return new OrreryError(ApiErrorIds.INPUT_INVALID, message, details);
}

/** The error id an error carries (for audit rows). */
export function errorIdOf(e: unknown): string {
  if (e instanceof OrreryError) return e.errorId;
  if (e instanceof GraphQLError) {
    const code = e.extensions?.code;
    if (typeof code === 'string') return code;
    if (e.originalError) return errorIdOf(e.originalError);
  }
  return ApiErrorIds.INTERNAL;
}
