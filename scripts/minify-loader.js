/**
 * Webpack loader (see webpack.config.js): minify the stylesheet and the SVG
 * icon before JupyterLab's own loaders put them into the bundle as strings.
 */
const { minify } = require('csso');

module.exports = function minifyLoader(source) {
  if (/\.css$/.test(this.resourcePath)) {
    return minify(source, { restructure: false }).css;
  }
  // SVG: drop comments and the white space between tags.
  return source
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/>\s+</g, '><')
    .trim();
};
