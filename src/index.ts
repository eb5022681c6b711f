// The package's public surface: a short list of re-exports, one namespace per area.
export * as etf from './etf/index';
