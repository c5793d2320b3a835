export * from './checkpoints.js';
export * from './runner.js';
export * from './reactor.js';
export * from './reactor-checkpoints.js';
