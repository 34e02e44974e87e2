// Loaded (as a classic script) before plotly.js.
//
// The app runs under a Content-Security-Policy with style-src 'self': inline
// style="" attributes written with setAttribute and injected <style> elements
// are refused (and each refusal is a console error). plotly.js, and the d3
// inside it, do both. The policy does allow the CSSOM, so route them there:
//   * setAttribute("style", css)  ->  element.style.cssText = css
//   * a <style> element appended to <head>  ->  a constructed stylesheet
// plotly.js's own base stylesheet is not injected at all: index.html marks
// #plotly.js-style-global with .no-inline-styles and plotly-csp.css holds the rules.
(function () {
  "use strict";

  const setAttribute = Element.prototype.setAttribute;
  const setAttributeNS = Element.prototype.setAttributeNS;

  function applyStyle(element, value) {
    const style = element.style;
    if (!style || typeof style !== "object") return false;
    style.cssText = value === null || value === undefined ? "" : String(value);
    return true;
  }

  function isStyleName(name) {
    return typeof name === "string" && name.toLowerCase() === "style";
  }

  Element.prototype.setAttribute = function (name, value) {
    if (isStyleName(name) && applyStyle(this, value)) return undefined;
    return setAttribute.call(this, name, value);
  };

  Element.prototype.setAttributeNS = function (namespace, name, value) {
    if (!namespace && isStyleName(name) && applyStyle(this, value)) return undefined;
    return setAttributeNS.call(this, namespace, name, value);
  };

  const canAdopt = "adoptedStyleSheets" in Document.prototype && typeof CSSStyleSheet === "function";
  const appendChild = Node.prototype.appendChild;

  Node.prototype.appendChild = function (child) {
    if (canAdopt && this === document.head && child instanceof HTMLStyleElement && !child.nonce) {
      const css = child.textContent || "";
      if (css.trim()) {
        try {
          const sheet = new CSSStyleSheet();
          sheet.replaceSync(css);
          document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
        } catch (err) {
          console.warn("stylesheet could not be adopted:", err);
        }
      }
      return child;
    }
    return appendChild.call(this, child);
  };
})();
