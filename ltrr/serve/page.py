"""The demo page served at ``/``: a search box, results tagged with the arms that found them, clicks sent as
feedback, and a live panel of allocation shares and recent reward per intent (polled from ``GET /arms``).
Plain HTML and JavaScript, no build step; text from the server is inserted with ``textContent`` only."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ltrr: search that learns where to look</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}
header{background:#1d3557;color:#fff;padding:12px 24px}header h1{font-size:20px;margin:0}
header p{margin:4px 0 0;font-size:13px;opacity:.85}
main{display:flex;gap:24px;padding:20px 24px;align-items:flex-start}
#left{flex:3;min-width:0}#right{flex:2;background:#fff;border-radius:8px;padding:14px;box-shadow:0 1px 3px #0002}
form{display:flex;gap:8px}input[type=search]{flex:1;font-size:16px;padding:8px;border:1px solid #aab;border-radius:6px}
button{font-size:15px;padding:8px 14px;border:0;border-radius:6px;background:#457b9d;color:#fff;cursor:pointer}
#meta{font-size:13px;color:#556;margin:10px 0}
ol{padding-left:22px}li.result{background:#fff;margin:8px 0;padding:10px;border-radius:6px;box-shadow:0 1px 2px #0001;cursor:pointer}
li.result:hover{background:#eef4fb}li.result.clicked{outline:2px solid #2a9d8f}
.title{font-weight:600}.type{font-size:12px;color:#667;margin-left:6px}
.arm{display:inline-block;font-size:11px;padding:1px 6px;margin:4px 4px 0 0;border-radius:10px;color:#fff}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{padding:3px 4px;text-align:left;border-bottom:1px solid #eee}
.bar{height:10px;display:inline-block;vertical-align:middle}
#share{display:flex;height:22px;border-radius:4px;overflow:hidden;margin:6px 0 4px}
#legend span{font-size:12px;margin-right:10px}
#err{color:#b00020;font-size:13px;min-height:1em}
</style></head><body>
<header><h1>ltrr: search that learns where to look</h1>
<p>Every result shows which retrieval arm found it. Click the one you wanted: the bandit learns which arms to ask,
and how deep, for queries like yours.</p></header>
<main><section id="left">
<form id="f"><input id="q" type="search" placeholder="try a title, an artist, a mood..." autocomplete="off" maxlength="512">
<button id="go" type="submit">Search</button><button id="none" type="button" title="none of these">None fit</button></form>
<div id="err"></div><div id="meta"></div><ol id="results"></ol></section>
<aside id="right"><h3 style="margin:0 0 4px">What the bandit does now</h3>
<div style="font-size:13px">Share of the candidate budget per arm (last searches)</div>
<div id="share"></div><div id="legend"></div>
<p id="reward" style="font-size:13px"></p>
<table><thead><tr><th>intent</th><th>searches</th><th>reward</th><th>top arm</th></tr></thead><tbody id="intents"></tbody></table>
<p style="font-size:12px;color:#667">Token (only if the server asks for one): <input id="tok" type="password" size="12"></p>
</aside></main>
<script>
const COLORS=["#e63946","#457b9d","#2a9d8f","#f4a261","#6d597a","#8d99ae","#bc6c25","#264653","#9d0208"];
let arms=[], current=null;
const $=id=>document.getElementById(id);
function color(a){const i=arms.indexOf(a);return COLORS[(i<0?arms.length:i)%COLORS.length]}
function el(tag,cls,text){const e=document.createElement(tag);if(cls)e.className=cls;if(text!==undefined)e.textContent=text;return e}
function headers(){const h={"content-type":"application/json"};const t=$("tok").value;if(t)h["authorization"]="Bearer "+t;return h}
async function search(ev){ev.preventDefault();$("err").textContent="";
  const r=await fetch("/search",{method:"POST",headers:headers(),body:JSON.stringify({query:$("q").value,k:10,hour:new Date().getHours()})});
  const b=await r.json();if(!r.ok){$("err").textContent=b.detail||r.status;return}
  current=b;const ol=$("results");ol.replaceChildren();
  $("meta").textContent="intent: "+b.intent+" | allocation: "+Object.entries(b.allocation).map(([a,n])=>a+" "+n).join(", ")+" | propensity "+b.propensity.toPrecision(3);
  b.results.forEach(h=>{const li=el("li","result");li.dataset.doc=h.doc_id;
    li.append(el("span","title",h.title||h.doc_id),el("span","type",h.type||""),el("br"));
    h.arms.forEach(x=>{const s=el("span","arm",x.arm+" #"+x.rank);s.style.background=color(x.arm);li.append(s)});
    li.onclick=()=>feedback([h.doc_id],li);ol.append(li)});}
async function feedback(ids,li){if(!current)return;const imp=current.impression_id;current=null;
  const r=await fetch("/feedback",{method:"POST",headers:headers(),body:JSON.stringify({impression_id:imp,clicked:ids})});
  const b=await r.json();if(!r.ok){$("err").textContent=b.detail||r.status;return}
  if(li)li.classList.add("clicked");$("meta").textContent+=" | feedback #"+b.seq+" learned";refresh()}
async function refresh(){const r=await fetch("/arms");if(!r.ok)return;const b=await r.json();arms=b.arms;
  const all=b.intents.all;const bar=$("share"),leg=$("legend");bar.replaceChildren();leg.replaceChildren();
  if(all){arms.forEach(a=>{const s=all.share[a]||0;const d=el("div");d.style.width=(100*s)+"%";d.style.background=color(a);d.title=a+" "+(100*s).toFixed(1)+"%";bar.append(d);
    const l=el("span","",a+" "+(100*s).toFixed(0)+"%");l.style.color=color(a);leg.append(l)});
    $("reward").textContent="recent reward (click rate): "+(all.reward_rate===null?"-":all.reward_rate.toFixed(2))+" over "+all.feedback+" feedback events; "+b.searches+" searches so far"}
  const tb=$("intents");tb.replaceChildren();Object.entries(b.intents).filter(([k])=>k!=="all").forEach(([k,v])=>{
    const top=Object.entries(v.share).sort((x,y)=>y[1]-x[1])[0];const tr=el("tr");
    tr.append(el("td","",k),el("td","",String(v.searches)),el("td","",v.reward_rate===null?"-":v.reward_rate.toFixed(2)),el("td","",top?top[0]+" "+(100*top[1]).toFixed(0)+"%":"-"));tb.append(tr)})}
$("f").addEventListener("submit",search);$("none").onclick=()=>feedback([],null);
refresh();setInterval(refresh,2000);
</script></body></html>
"""
