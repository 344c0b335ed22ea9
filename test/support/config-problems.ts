import { expect } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';

/** The problems loadConfig refuses `env` with (none: it loads). */
export const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
};
