// A DOM for the React tests (jsdom from npm), installed before @testing-library/react is loaded:
// import this module first. Only what React DOM and the testing library use is made global
// (window, document, navigator), so Cairn itself sees Node as in every other test.
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>', { url: 'http://localhost/' });
globalThis.window = /** @type {any} */ (dom.window);
globalThis.document = dom.window.document;
if (typeof globalThis.navigator === 'undefined') globalThis.navigator = dom.window.navigator;
globalThis.IS_REACT_ACT_ENVIRONMENT = true;
