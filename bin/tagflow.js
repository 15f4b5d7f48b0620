#!/usr/bin/env node
'use strict';
// Built by `npm run build` (run by `npm ci` through `prepare`).
require('../lib/cli/main.js')
  .main(process.argv)
  .then((code) => { process.exitCode = code; });
