/*
 * The stylesheet, minified at build time (webpack.config.js) and imported as
 * a string (the builder's rule for `.raw.css`), then added to the page as
 * style-loader would: without shipping style-loader and css-loader.
 */
import css from './base.raw.css';

const style = document.createElement('style');
style.textContent = css;
document.head.appendChild(style);
