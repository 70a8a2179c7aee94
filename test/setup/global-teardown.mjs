// See global-setup.mjs.
export { default } from './databases-teardown.ts';
