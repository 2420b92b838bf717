/** Request limits enforced before execution: aliases, tokens, batch size, introspection. */
import { GraphQLError, Kind, NoSchemaIntrospectionCustomRule, parse, type ASTVisitor, type ValidationContext, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ApiErrorIds } from './errors.ts';
import type { RequestState } from './context.ts';

export interface RequestLimits {
  /** Aliased fields per document. */
  aliases: number;
  /** Operations per batched request. */
  batch: number;
  /** Lexer tokens per document (bounds parsing work). */
  tokens: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = { aliases: 30, batch: 5, tokens: 5_000 };

/** Rejects documents with more than `max` aliases (alias fan-out multiplies work without depth). */
export function maxAliasesRule(max: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    let count = 0;
    let reported = false;
    return {
      Field(node) {
        if (!node.alias) return;
        count++;
        if (count > max && !reported) {
          reported = true;
          context.reportError(new GraphQLError(`The query uses more than ${max} aliases; split it into several requests.`, { nodes: [node], extensions: { code: ApiErrorIds.LIMIT_ALIASES, max } }));
        }
      },
    };
  };
}

function withCode(e: GraphQLError, code: string): GraphQLError {
  if (typeof e.extensions?.code === 'string') return e;
  return new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, path: e.path, originalError: e.originalError, extensions: { ...e.extensions, code } });
}

/** The yoga plugin: parse and validation limits, error ids on their errors, and the operation name for metrics. */
export function limitsPlugin(limits: RequestLimits, introspection: boolean): Plugin<{ state: RequestState }> {
  return {
    onRequestParse() {
      return {
        onRequestParseDone({ requestParserResult }) {
          if (Array.isArray(requestParserResult) && requestParserResult.length > limits.batch) {
            throw new GraphQLError(`A batch may hold at most ${limits.batch} operations; this one has ${requestParserResult.length}.`, { extensions: { code: ApiErrorIds.LIMIT_BATCH, max: limits.batch, http: { status: 413 } } });
          }
        },
      };
    },
    onParse({ setParseFn }) {
      setParseFn((source, options) => {
        try {
          return parse(source, { ...options, maxTokens: limits.tokens });
        } catch (e) {
          throw e instanceof GraphQLError ? withCode(e, /token/i.test(e.message) ? ApiErrorIds.LIMIT_SIZE : ApiErrorIds.QUERY_INVALID) : e;
        }
      });
    },
    onValidate({ addValidationRule }) {
      addValidationRule(maxAliasesRule(limits.aliases));
      if (!introspection) addValidationRule(NoSchemaIntrospectionCustomRule);
      return ({ result, setResult }) => {
        if (result.length === 0) return;
        setResult(result.map((e) => withCode(e, /introspection/i.test(e.message) ? ApiErrorIds.INTROSPECTION_DISABLED : ApiErrorIds.QUERY_INVALID)));
      };
    },
    onExecute({ args }) {
      const state = (args.contextValue as { state?: RequestState }).state;
      if (state) state.operation = operationLabel(args.operationName, args.document);
      return {
        onExecuteDone({ result }) {
          if (state && 'errors' in result && result.errors?.length) state.failed = true;
        },
      };
    },
    onSubscribe({ args }) {
      const state = (args.contextValue as { state?: RequestState }).state;
      if (state) state.operation = operationLabel(args.operationName, args.document);
    },
  };
}

/** A bounded label for metrics: the operation's name (sanitized) or its first root field. */
function operationLabel(name: string | null | undefined, document: { definitions: readonly { kind: string }[] }): string {
  let label = name ?? undefined;
  if (!label) {
    const op = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION) as { name?: { value: string }; selectionSet?: { selections: readonly { kind: string; name?: { value: string } }[] } } | undefined;
    label = op?.name?.value ?? op?.selectionSet?.selections.find((s) => s.kind === Kind.FIELD)?.name?.value ?? 'anonymous';
  }
  return label.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 64);
}
