// The public face of the selector language: parse, match, print canonically, and the error it raises.

export * from './ast.js';
export * from './syntax-error.js';
export * from './parse-selector.js';
export { MAX_SELECTOR_NESTING } from './parser.js';
export { MAX_LABEL_LENGTH } from './tokenizer.js';
