// Preloaded (node --require) into a measured process: at exit, writes its peak RSS and whether it loaded
// @pulumi/* to the file named by TAGFLOW_BENCH_RSS. Used by scripts/bench.js for whole-process figures.
'use strict';
const fs = require('node:fs');
process.on('exit', () => {
  const pulumi = Object.keys(require.cache).some((k) => /[\\/]node_modules[\\/]@pulumi[\\/]/.test(k));
  fs.writeFileSync(process.env.TAGFLOW_BENCH_RSS, JSON.stringify({ maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024), pulumiLoaded: pulumi }));
});
