// The frame builder moved to product code (explain --kernel uses it): src/dataplane/frames.ts.
export * from '../../src/dataplane/frames.js';
