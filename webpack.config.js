// Merged by @jupyterlab/builder into its own config ("webpackConfig" in package.json).
module.exports = {
  module: {
    rules: [
      {
        test: /\.(css|svg)$/,
        enforce: 'pre',
        loader: require.resolve('./scripts/minify-loader.js')
      }
    ]
  }
};
