export * from './checkpoints.js';
export * from './runner.js';
