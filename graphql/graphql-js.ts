/**
 * graphql-js, loaded the way Node loads it for yoga and Pothos (CommonJS). A bundler-style
 * resolver (vitest) would otherwise pick graphql's `.mjs` build for our files while the
 * libraries use the `.js` one, and graphql refuses types and errors from "another realm".
 */
import { createRequire } from 'node:module';

const g = createRequire(import.meta.url)('graphql') as typeof import('graphql');

export const { GraphQLError, Kind, parse, NoSchemaIntrospectionCustomRule, getNamedType, getNullableType, isListType } = g;
export type GraphQLError = import('graphql').GraphQLError;
export type { ASTVisitor, DocumentNode, GraphQLSchema, OperationDefinitionNode, ValidationContext, ValidationRule } from 'graphql';
