// Jest would compile a TypeScript global setup to CommonJS, where kapu's migrator (dynamic
// imports of migrations/*.ts) cannot run; this module is loaded as it is, by Node itself.
export { default } from './databases.ts';
